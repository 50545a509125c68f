//! Run events in SQLite: recorded in group commits and fanned out to one pending
//! delivery per matching endpoint, moving their runs' status.

use super::endpoints::{endpoint_from_row, ENDPOINT_COLUMNS};
use super::{corrupt, from_millis, millis, query_all, EmbeddedStore};
use crate::id::new_id;
use crate::store::{
    parse_slug, Delivery, DueDelivery, Endpoint, HandOff, RecordedRunEvent, RecordedRunEvents,
    RunEvent, RunEventWrite, RunStatus, StoreError,
};
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;

fn event_from_row(row: &Row<'_>) -> Result<RunEvent, StoreError> {
    let data: String = row.get("data")?;
    Ok(RunEvent {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        event_type: row.get("type")?,
        run_id: row.get("run_id")?,
        workflow_id: row.get("workflow_id")?,
        occurred_at: from_millis(row.get("occurred_at")?)?,
        data: serde_json::from_str(&data).map_err(corrupt)?,
        received_at: from_millis(row.get("received_at")?)?,
        traceparent: row.get("traceparent")?,
    })
}

pub(super) fn find_event(
    conn: &Connection,
    org: &str,
    id: &str,
) -> Result<Option<RunEvent>, StoreError> {
    Ok(query_all(
        conn,
        "SELECT org, id, type, run_id, workflow_id, occurred_at, data, received_at, traceparent
         FROM run_events WHERE org = ?1 AND id = ?2",
        params![org, id],
        event_from_row,
    )?
    .pop())
}

impl EmbeddedStore {
    /// [`DeliveryStore::record_and_claim_run_events`](crate::store::DeliveryStore::record_and_claim_run_events):
    /// the events recorded and fanned out to deliveries, in one transaction.
    pub(super) async fn record_and_fan_out(
        &self,
        batch: &[RunEventWrite],
        hand_off: Option<&HandOff>,
    ) -> Result<RecordedRunEvents, StoreError> {
        if batch.is_empty() {
            return Ok(RecordedRunEvents::default());
        }
        let batch = batch.to_vec();
        let hand_off = hand_off.cloned();
        self.with_conn(move |conn| {
            // One transaction (one fsync) for the batch; in-process statements cost no
            // round trips, so each event is applied in order, which gives exactly the
            // answers of one call per event.
            let tx = conn.transaction()?;
            let mut endpoints_of: HashMap<String, Vec<Endpoint>> = HashMap::new();
            // The new deliveries as sendable items, gathered only when some may be
            // handed off.
            let mut fanned_out = hand_off.as_ref().map(|_| Vec::new());
            let events = batch
                .iter()
                .map(|write| record_run_event(&tx, write, &mut endpoints_of, fanned_out.as_mut()))
                .collect::<Result<Vec<_>, _>>()?;
            let claimed = match (&hand_off, fanned_out) {
                (Some(hand_off), Some(fanned_out)) => claim_handed_off(&tx, hand_off, fanned_out)?,
                _ => Vec::new(),
            };
            tx.commit()?;
            Ok(RecordedRunEvents { events, claimed })
        })
        .await
    }
}

/// Claims the new deliveries `hand_off` admits, in the batch's order.
fn claim_handed_off(
    tx: &rusqlite::Transaction<'_>,
    hand_off: &HandOff,
    fanned_out: Vec<DueDelivery>,
) -> Result<Vec<DueDelivery>, StoreError> {
    let admitted = hand_off.admit(fanned_out.iter().map(|due| due.endpoint.id.as_str()));
    let mut claim =
        tx.prepare_cached("UPDATE deliveries SET claim_expires_at = ?2 WHERE id = ?1")?;
    let mut claimed = Vec::new();
    for (due, admitted) in fanned_out.into_iter().zip(admitted) {
        if admitted {
            claim.execute(params![due.delivery.id, millis(&hand_off.lease_until)])?;
            claimed.push(due);
        }
    }
    Ok(claimed)
}

/// Records one run event of a batch and fans it out, adding its new deliveries to
/// `fanned_out` when there is one. `endpoints_of` caches each org's enabled endpoints
/// for the batch (the transaction sees no other writer).
fn record_run_event(
    tx: &rusqlite::Transaction<'_>,
    write: &RunEventWrite,
    endpoints_of: &mut HashMap<String, Vec<Endpoint>>,
    mut fanned_out: Option<&mut Vec<DueDelivery>>,
) -> Result<RecordedRunEvent, StoreError> {
    let event = &write.event;
    let inserted = tx
        .prepare_cached(
            // `seq`: the next after the run's last; one writer at a time, so no gaps.
            "INSERT INTO run_events (org, id, type, run_id, workflow_id, occurred_at, data,
                                     received_at, traceparent, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                     CASE WHEN ?4 IS NULL THEN NULL ELSE
                         (SELECT coalesce(max(seq), 0) + 1 FROM run_events
                          WHERE org = ?1 AND run_id = ?4) END)
             ON CONFLICT (org, id) DO NOTHING",
        )?
        .execute(params![
            event.org.as_str(),
            event.id,
            event.event_type,
            event.run_id,
            event.workflow_id,
            millis(&event.occurred_at),
            event.data.to_string(),
            millis(&event.received_at),
            event.traceparent,
        ])?;
    if inserted == 0 {
        return Ok(RecordedRunEvent {
            new: false,
            deliveries: 0,
        });
    }
    let endpoints = match endpoints_of.entry(event.org.as_str().to_owned()) {
        std::collections::hash_map::Entry::Occupied(cached) => cached.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => {
            let sql = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM endpoints
                 WHERE org = ?1 AND enabled = 1 AND deleted_at IS NULL"
            );
            slot.insert(query_all(
                tx,
                &sql,
                params![event.org.as_str()],
                endpoint_from_row,
            )?)
        }
    };
    let matching: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| match &write.only_endpoint {
            Some(id) => &e.id == id,
            None => e.subscribes(&event.event_type, event.workflow_id.as_deref()),
        })
        .collect();
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (id, org, endpoint_id, event_id, event_type, status, attempts,
                                 next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)",
    )?;
    for endpoint in &matching {
        let id = new_id("dlv");
        insert.execute(params![
            id,
            event.org.as_str(),
            endpoint.id,
            event.id,
            event.event_type,
            millis(&event.received_at)
        ])?;
        if let Some(fanned_out) = fanned_out.as_deref_mut() {
            fanned_out.push(DueDelivery {
                delivery: Delivery::new_pending(&id, event, &endpoint.id),
                event: event.clone(),
                endpoint: (*endpoint).clone(),
            });
        }
    }
    if let (Some(status), Some(run_id)) = (RunStatus::after_event(&event.event_type), &event.run_id)
    {
        tx.prepare_cached(
            "UPDATE runs SET status = ?3, updated_at = ?4 WHERE id = ?1 AND org = ?2",
        )?
        .execute(params![
            run_id,
            event.org.as_str(),
            status.as_str(),
            millis(&event.received_at)
        ])?;
    }
    Ok(RecordedRunEvent {
        new: true,
        deliveries: matching.len(),
    })
}
