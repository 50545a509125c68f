//! Run events in PostgreSQL: recorded in group commits and fanned out to one pending
//! delivery per matching endpoint, moving their runs' status.

use super::endpoints::{endpoint_from_row, ENDPOINT_COLUMNS};
use super::{corrupt, PostgresStore};
use crate::id::new_id;
use crate::store::{
    Delivery, DueDelivery, Endpoint, HandOff, RecordedRunEvent, RecordedRunEvents, RunEventWrite,
    RunStatus, StoreError,
};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use tokio_postgres::types::ToSql;

/// Records a batch of run events (each (org, id) once; a replayed one is skipped) and
/// returns, per recorded event (by its position `ord`), the endpoints it goes to: one
/// row per matching endpoint, or one NULL row when no endpoint wants it. A replayed
/// event has no row. `only_endpoint` (a test event) matches that endpoint alone,
/// whatever its filters. The endpoint's columns come along for the deliveries handed
/// off to this instance's workers.
static RECORD_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH batch AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::timestamptz[], $7::jsonb[], $8::timestamptz[], $9::text[],
                              $10::text[], $11::int4[], $12::int4[])
             AS b(org, id, type, run_id, workflow_id, occurred_at, data, received_at,
                  traceparent, only_endpoint, ord, seq)
     ), recorded AS (
         INSERT INTO run_events (org, id, type, run_id, workflow_id, occurred_at, data,
                                 received_at, traceparent, seq)
         SELECT org, id, type, run_id, workflow_id, occurred_at, data, received_at, traceparent,
                seq
         FROM batch
         ON CONFLICT (org, id) DO NOTHING
         RETURNING org, id
     )
     SELECT b.ord, e.* FROM recorded r
     JOIN batch b ON b.org = r.org AND b.id = r.id
     LEFT JOIN LATERAL (
         SELECT {ENDPOINT_COLUMNS} FROM endpoints e
         WHERE e.org = b.org AND e.enabled AND e.deleted_at IS NULL
           AND ((b.only_endpoint IS NULL
                 AND (cardinality(e.event_types) = 0 OR b.type = ANY(e.event_types))
                 AND (cardinality(e.workflow_ids) = 0 OR b.workflow_id = ANY(e.workflow_ids)))
                OR e.id = b.only_endpoint)
     ) e ON true"
    )
});

/// One pending delivery per ($1 id, $2 org, $3 endpoint, $4 event, $5 type, $6 at,
/// $7 claimed until, NULL when not handed off), and the runs' new statuses ($8 run,
/// $9 org, $10 status, $11 at; one row per run).
const FAN_OUT_SQL: &str = "WITH fanned_out AS (
         INSERT INTO deliveries (id, org, endpoint_id, event_id, event_type, status, attempts,
                                 next_attempt_at, claim_expires_at, created_at, updated_at)
         SELECT d.id, d.org, d.endpoint_id, d.event_id, d.event_type, 'pending', 0,
                d.at, d.claimed_until, d.at, d.at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::timestamptz[])
             AS d(id, org, endpoint_id, event_id, event_type, at, claimed_until)
     )
     UPDATE runs SET status = r.status, updated_at = r.at
     FROM unnest($8::text[], $9::text[], $10::text[], $11::timestamptz[])
         AS r(id, org, status, at)
     WHERE runs.id = r.id AND runs.org = r.org";

/// The position of the first write of each (org, event id), sorted by that key: a
/// repeat later in the batch answers as a replay, exactly as a later call would, and a
/// fixed key order keeps concurrent batches from deadlocking on each other's rows.
fn first_occurrences(batch: &[RunEventWrite]) -> Vec<usize> {
    let mut firsts: Vec<usize> = (0..batch.len()).collect();
    let key = |i: &usize| (batch[*i].event.org.as_str(), batch[*i].event.id.as_str());
    // Stable: among equal keys the earliest position comes first and is kept.
    firsts.sort_by(|a, b| key(a).cmp(&key(b)));
    firsts.dedup_by(|later, first| key(later) == key(first));
    firsts
}

/// The columns of `RECORD_EVENTS_SQL`, one entry per first occurrence.
struct EventColumns<'a> {
    org: Vec<&'a str>,
    id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    run_id: Vec<Option<&'a str>>,
    workflow_id: Vec<Option<&'a str>>,
    occurred_at: Vec<DateTime<Utc>>,
    data: Vec<&'a serde_json::Value>,
    received_at: Vec<DateTime<Utc>>,
    traceparent: Vec<Option<&'a str>>,
    only_endpoint: Vec<Option<&'a str>>,
    ord: Vec<i32>,
    seq: Vec<Option<i32>>,
}

impl<'a> EventColumns<'a> {
    fn new(batch: &'a [RunEventWrite], positions: &[usize], seqs: &[Option<i32>]) -> Self {
        let writes = || positions.iter().map(|i| &batch[*i]);
        let events = || writes().map(|w| &w.event);
        Self {
            org: events().map(|e| e.org.as_str()).collect(),
            id: events().map(|e| e.id.as_str()).collect(),
            event_type: events().map(|e| e.event_type.as_str()).collect(),
            run_id: events().map(|e| e.run_id.as_deref()).collect(),
            workflow_id: events().map(|e| e.workflow_id.as_deref()).collect(),
            occurred_at: events().map(|e| e.occurred_at).collect(),
            data: events().map(|e| &e.data).collect(),
            received_at: events().map(|e| e.received_at).collect(),
            traceparent: events().map(|e| e.traceparent.as_deref()).collect(),
            only_endpoint: writes().map(|w| w.only_endpoint.as_deref()).collect(),
            ord: positions
                .iter()
                .map(|i| i32::try_from(*i).unwrap_or(i32::MAX))
                .collect(),
            seq: positions.iter().map(|i| seqs[*i]).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 12] {
        [
            &self.org,
            &self.id,
            &self.event_type,
            &self.run_id,
            &self.workflow_id,
            &self.occurred_at,
            &self.data,
            &self.received_at,
            &self.traceparent,
            &self.only_endpoint,
            &self.ord,
            &self.seq,
        ]
    }
}

/// The columns of `FAN_OUT_SQL`: the new deliveries of the recorded events, and each
/// run's status after its last recorded `run.*` event of the batch (as if applied in
/// order; one row per run, sorted, so concurrent batches lock runs in one order).
struct FanOut<'a> {
    delivery_id: Vec<String>,
    org: Vec<&'a str>,
    endpoint_id: Vec<&'a str>,
    event_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    at: Vec<DateTime<Utc>>,
    claimed_until: Vec<Option<DateTime<Utc>>>,
    run_id: Vec<&'a str>,
    run_org: Vec<&'a str>,
    run_status: Vec<&'static str>,
    run_at: Vec<DateTime<Utc>>,
    /// The deliveries written claimed, ready to send.
    claimed: Vec<DueDelivery>,
}

impl<'a> FanOut<'a> {
    /// `routes[i]`: the endpoints of `batch[i]` if it was recorded now.
    fn new(
        batch: &'a [RunEventWrite],
        routes: &'a [Option<Vec<Endpoint>>],
        hand_off: Option<&HandOff>,
    ) -> Self {
        let mut fan_out = Self {
            delivery_id: Vec::new(),
            org: Vec::new(),
            endpoint_id: Vec::new(),
            event_id: Vec::new(),
            event_type: Vec::new(),
            at: Vec::new(),
            claimed_until: Vec::new(),
            run_id: Vec::new(),
            run_org: Vec::new(),
            run_status: Vec::new(),
            run_at: Vec::new(),
            claimed: Vec::new(),
        };
        let new_deliveries = || {
            batch
                .iter()
                .zip(routes)
                .filter_map(|(write, endpoints)| Some((&write.event, endpoints.as_ref()?)))
                .flat_map(|(event, endpoints)| endpoints.iter().map(move |e| (event, e)))
        };
        let admitted = hand_off.map_or_else(Vec::new, |hand_off| {
            hand_off.admit(new_deliveries().map(|(_, endpoint)| endpoint.id.as_str()))
        });
        for (i, (event, endpoint)) in new_deliveries().enumerate() {
            let id = new_id("dlv");
            let claimed_until = hand_off
                .filter(|_| admitted.get(i).copied().unwrap_or(false))
                .map(|hand_off| hand_off.lease_until);
            if claimed_until.is_some() {
                fan_out.claimed.push(DueDelivery {
                    delivery: Delivery::new_pending(&id, event, &endpoint.id),
                    event: event.clone(),
                    endpoint: endpoint.clone(),
                });
            }
            fan_out.delivery_id.push(id);
            fan_out.org.push(event.org.as_str());
            fan_out.endpoint_id.push(endpoint.id.as_str());
            fan_out.event_id.push(event.id.as_str());
            fan_out.event_type.push(event.event_type.as_str());
            fan_out.at.push(event.received_at);
            fan_out.claimed_until.push(claimed_until);
        }
        let mut statuses = std::collections::BTreeMap::new();
        for (write, recorded) in batch.iter().zip(routes) {
            let event = &write.event;
            if let (Some(_), Some(status), Some(run_id)) = (
                recorded,
                RunStatus::after_event(&event.event_type),
                &event.run_id,
            ) {
                // A later event of the same run replaces the earlier one's status.
                statuses.insert(
                    (event.org.as_str(), run_id.as_str()),
                    (status.as_str(), event.received_at),
                );
            }
        }
        for ((org, run_id), (status, at)) in statuses {
            fan_out.run_id.push(run_id);
            fan_out.run_org.push(org);
            fan_out.run_status.push(status);
            fan_out.run_at.push(at);
        }
        fan_out
    }

    fn is_empty(&self) -> bool {
        self.delivery_id.is_empty() && self.run_id.is_empty()
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.delivery_id,
            &self.org,
            &self.endpoint_id,
            &self.event_id,
            &self.event_type,
            &self.at,
            &self.claimed_until,
            &self.run_id,
            &self.run_org,
            &self.run_status,
            &self.run_at,
        ]
    }
}

/// Each event's `seq` in its run (by batch position; `None` for events without a run
/// and for replays): the next numbers after the run's last, in the order the batch
/// holds them. Runs are locked (a transaction-scoped advisory lock per (org, run), in
/// key order) before their last seq is read, so concurrent batches of one run, on any
/// instance, number one after the other without gaps.
async fn assign_seqs(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[RunEventWrite],
    firsts: &[usize],
) -> Result<Vec<Option<i32>>, StoreError> {
    let mut seqs = vec![None; batch.len()];
    let mut in_runs: Vec<usize> = firsts
        .iter()
        .copied()
        .filter(|&i| batch[i].event.run_id.is_some())
        .collect();
    if in_runs.is_empty() {
        return Ok(seqs);
    }
    in_runs.sort_unstable();
    let mut runs: Vec<(&str, &str)> = in_runs
        .iter()
        .filter_map(|&i| {
            let event = &batch[i].event;
            event.run_id.as_deref().map(|run| (event.org.as_str(), run))
        })
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let (run_orgs, run_ids): (Vec<&str>, Vec<&str>) = runs.iter().copied().unzip();
    let (event_orgs, event_ids): (Vec<&str>, Vec<&str>) = in_runs
        .iter()
        .map(|&i| (batch[i].event.org.as_str(), batch[i].event.id.as_str()))
        .unzip();
    let run_params: [&(dyn ToSql + Sync); 2] = [&run_orgs, &run_ids];
    let event_params: [&(dyn ToSql + Sync); 2] = [&event_orgs, &event_ids];
    // Sent together on one connection, so they run in this order in one round trip.
    let (_, last_rows, seen_rows) = tokio::try_join!(
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('hookgate.run_seq/' || k.o || '/' || k.r, 0))
             FROM unnest($1::text[], $2::text[]) AS k(o, r)",
            &run_params,
        ),
        tx.query(
            "SELECT k.o, k.r, (SELECT max(e.seq) FROM run_events e
                               WHERE e.org = k.o AND e.run_id = k.r)
             FROM unnest($1::text[], $2::text[]) AS k(o, r)",
            &run_params,
        ),
        tx.query(
            "SELECT e.org, e.id FROM run_events e
             JOIN unnest($1::text[], $2::text[]) AS b(o, i) ON e.org = b.o AND e.id = b.i",
            &event_params,
        ),
    )?;
    let mut last: HashMap<(String, String), i32> = last_rows
        .iter()
        .map(|row| {
            (
                (row.get::<_, String>(0), row.get::<_, String>(1)),
                row.get::<_, Option<i32>>(2).unwrap_or(0),
            )
        })
        .collect();
    let seen: HashSet<(String, String)> = seen_rows
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    for i in in_runs {
        let event = &batch[i].event;
        if seen.contains(&(event.org.to_string(), event.id.clone())) {
            continue;
        }
        let run = event.run_id.clone().unwrap_or_default();
        let counter = last.entry((event.org.to_string(), run)).or_insert(0);
        *counter += 1;
        seqs[i] = Some(*counter);
    }
    Ok(seqs)
}

/// The (org, run) pairs whose timelines a batch moved (recorded events with a run).
fn woken_runs<'a>(
    batch: &'a [RunEventWrite],
    routes: &[Option<Vec<Endpoint>>],
) -> Vec<(&'a str, &'a str)> {
    let mut runs: Vec<(&str, &str)> = batch
        .iter()
        .zip(routes)
        .filter(|(_, recorded)| recorded.is_some())
        .filter_map(|(write, _)| {
            let event = &write.event;
            event.run_id.as_deref().map(|run| (event.org.as_str(), run))
        })
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs
}

/// Longest NOTIFY payload written: PostgreSQL refuses 8000 bytes and more.
const NOTIFY_PAYLOAD_MAX: usize = 7_900;

/// The NOTIFY payloads: `org/run` pairs, space-separated, as many payloads as it takes
/// to stay under PostgreSQL's limit. One payload saying "re-read every run" instead
/// woke every live reader for a large batch (about 200 runs and more), and large
/// batches come when intake is behind, so the extra reads made it fall further behind.
fn notifications(runs: &[(&str, &str)]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut text = String::new();
    for (org, run) in runs {
        let pair_len = org.len() + 1 + run.len();
        if !text.is_empty() && text.len() + 1 + pair_len > NOTIFY_PAYLOAD_MAX {
            payloads.push(std::mem::take(&mut text));
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(org);
        text.push('/');
        text.push_str(run);
    }
    if !text.is_empty() {
        payloads.push(text);
    }
    payloads
}

impl PostgresStore {
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
        let firsts = first_occurrences(batch);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Prepared together: one round trip instead of two on a fresh connection.
        let (record, fan_out) = tokio::try_join!(
            tx.prepare_cached(&RECORD_EVENTS_SQL),
            tx.prepare_cached(FAN_OUT_SQL)
        )?;
        let seqs = assign_seqs(&tx, batch, &firsts).await?;
        let rows = tx
            .query(&record, &EventColumns::new(batch, &firsts, &seqs).params())
            .await?;
        // Replayed events (in the store or earlier in the batch) have no row.
        let mut routes: Vec<Option<Vec<Endpoint>>> = vec![None; batch.len()];
        for row in &rows {
            let ord = usize::try_from(row.get::<_, i32>("ord")).map_err(corrupt)?;
            let endpoints = routes
                .get_mut(ord)
                .ok_or_else(|| corrupt("run event position out of range"))?
                .get_or_insert_with(Vec::new);
            if row.get::<_, Option<&str>>("id").is_some() {
                endpoints.push(endpoint_from_row(row)?);
            }
        }
        let fan_out_rows = FanOut::new(batch, &routes, hand_off);
        if !fan_out_rows.is_empty() {
            tx.execute(&fan_out, &fan_out_rows.params()).await?;
        }
        let woken = woken_runs(batch, &routes);
        if !woken.is_empty() {
            // Delivered at commit, to every instance's listener (`listen.rs`).
            tx.execute(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                &[&super::listen::CHANNEL, &notifications(&woken)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(RecordedRunEvents {
            events: routes
                .iter()
                .map(|endpoints| RecordedRunEvent {
                    new: endpoints.is_some(),
                    deliveries: endpoints.as_ref().map_or(0, Vec::len),
                })
                .collect(),
            claimed: fan_out_rows.claimed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{notifications, NOTIFY_PAYLOAD_MAX};
    use crate::store::RunWake;

    #[test]
    fn notifications_name_every_run_in_payloads_under_the_limit() {
        assert!(notifications(&[]).is_empty());
        assert_eq!(
            notifications(&[("acme", "run_1"), ("acme", "run_2")]),
            ["acme/run_1 acme/run_2"]
        );
        let ids: Vec<String> = (0..1_000)
            .map(|i| format!("run_01JTESTRUNIDENTIFIER{i:05}"))
            .collect();
        let runs: Vec<(&str, &str)> = ids.iter().map(|id| ("acme", id.as_str())).collect();
        let payloads = notifications(&runs);
        assert!(payloads.len() > 1);
        let mut heard = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= NOTIFY_PAYLOAD_MAX);
            match RunWake::parse(payload) {
                RunWake::Runs(pairs) => heard.extend(pairs),
                RunWake::All => panic!("a payload names its runs"),
            }
        }
        let want: Vec<(String, String)> = runs
            .iter()
            .map(|(o, r)| ((*o).to_owned(), (*r).to_owned()))
            .collect();
        assert_eq!(heard, want);
    }
}
