//! Inbound events, runs, the outbox and rejections in PostgreSQL.
//!
//! A group commit is a handful of multi-row statements (`INSERT … SELECT FROM unnest`),
//! not a statement per event: PostgreSQL's cost per statement, not per row, is what
//! limits ingress (SPEC §10).

use super::runs::{headers_json, run_status};
use super::PostgresStore;
use crate::store::{
    last_uses, AcceptOutcome, EventWrite, IngressStore, Rejected, RunStatus, StoreError,
    LAST_USED_GRANULARITY,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use std::collections::HashMap;

/// Claims the de-dup keys of `rows` (indexes into `batch`, one per key) in one
/// statement. Returns the outcome of each row whose key is already taken.
async fn claim_dedup_keys(
    tx: &Transaction<'_>,
    batch: &[EventWrite],
    rows: &[usize],
) -> Result<HashMap<usize, AcceptOutcome>, StoreError> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sources = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut event_ids = Vec::with_capacity(rows.len());
    let mut run_ids = Vec::with_capacity(rows.len());
    let mut expiries = Vec::with_capacity(rows.len());
    let mut earliest = None::<DateTime<Utc>>;
    for &i in rows {
        let (event, run) = (&batch[i].event, batch[i].run.as_ref());
        let window = chrono::Duration::from_std(event.dedup_window)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sources.push(event.source_id.as_str());
        keys.push(event.dedup_key.as_deref().unwrap_or_default());
        event_ids.push(event.id.as_str());
        run_ids.push(run.map(|r| r.id.as_str()).unwrap_or_default());
        expiries.push(event.received_at + window);
        earliest = Some(earliest.map_or(event.received_at, |e| e.min(event.received_at)));
    }
    // Rows arrive in (source, key) order, so concurrent batches take key locks in the
    // same order and cannot deadlock. A claim whose window has passed is taken over.
    let claimed = tx
        .query(
            &tx.prepare_cached(
                "INSERT INTO ingress_dedup (source_id, dedup_key, event_id, run_id, expires_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                      $5::timestamptz[])
                 ON CONFLICT (source_id, dedup_key) DO UPDATE
                    SET event_id = EXCLUDED.event_id, run_id = EXCLUDED.run_id,
                        expires_at = EXCLUDED.expires_at
                    WHERE ingress_dedup.expires_at <= $6
                 RETURNING event_id",
            )
            .await?,
            &[&sources, &keys, &event_ids, &run_ids, &expiries, &earliest],
        )
        .await?;
    if claimed.len() == rows.len() {
        return Ok(HashMap::new());
    }
    let claimed: std::collections::HashSet<String> = claimed.iter().map(|r| r.get(0)).collect();
    let taken: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| !claimed.contains(&batch[i].event.id))
        .collect();
    existing_claims(tx, batch, &taken).await
}

/// The event and run that already hold the keys of `rows`.
async fn existing_claims(
    tx: &Transaction<'_>,
    batch: &[EventWrite],
    rows: &[usize],
) -> Result<HashMap<usize, AcceptOutcome>, StoreError> {
    let sources: Vec<&str> = rows
        .iter()
        .map(|&i| batch[i].event.source_id.as_str())
        .collect();
    let keys: Vec<&str> = rows
        .iter()
        .map(|&i| batch[i].event.dedup_key.as_deref().unwrap_or_default())
        .collect();
    let found = tx
        .query(
            &tx.prepare_cached(concat!(
                "SELECT d.source_id, d.dedup_key, d.event_id, d.run_id, ",
                run_status!(),
                " FROM unnest($1::text[], $2::text[]) AS k (source_id, dedup_key)
                  JOIN ingress_dedup d USING (source_id, dedup_key)
                  JOIN runs r ON r.id = d.run_id"
            ))
            .await?,
            &[&sources, &keys],
        )
        .await?;
    let mut by_key = HashMap::with_capacity(found.len());
    for row in &found {
        let status: String = row.get(4);
        let outcome = AcceptOutcome::Duplicate {
            event_id: row.get(2),
            run_id: row.get(3),
            run_status: RunStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
        };
        by_key.insert((row.get::<_, String>(0), row.get::<_, String>(1)), outcome);
    }
    rows.iter()
        .map(|&i| {
            let event = &batch[i].event;
            let key = (
                event.source_id.clone(),
                event.dedup_key.clone().unwrap_or_default(),
            );
            by_key
                .remove(&key)
                .map(|outcome| (i, outcome))
                .ok_or_else(|| StoreError::Corrupt("de-dup claim vanished".into()))
        })
        .collect()
}

/// Which rows of a batch claim a de-dup key, and which repeat a key an earlier row of
/// the same batch claims (they are its duplicates).
struct DedupPlan {
    /// In (source, key) order.
    claimers: Vec<usize>,
    /// (row, the earlier row with the same key).
    repeats: Vec<(usize, usize)>,
}

fn plan_dedup(batch: &[EventWrite]) -> DedupPlan {
    let mut keyed: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].event.dedup_key.is_some() && batch[i].run.is_some())
        .collect();
    let key = |i: usize| (&batch[i].event.source_id, &batch[i].event.dedup_key);
    // Stable: among equal keys the earliest row comes first and claims.
    keyed.sort_by(|&a, &b| key(a).cmp(&key(b)));
    let mut plan = DedupPlan {
        claimers: Vec::with_capacity(keyed.len()),
        repeats: Vec::new(),
    };
    for i in keyed {
        match plan.claimers.last() {
            Some(&leader) if key(leader) == key(i) => plan.repeats.push((i, leader)),
            _ => plan.claimers.push(i),
        }
    }
    plan
}

/// What each row of the batch becomes: recorded, or a duplicate of what holds its key.
async fn dedup_outcomes(
    tx: &Transaction<'_>,
    batch: &[EventWrite],
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let plan = plan_dedup(batch);
    let mut outcomes = vec![AcceptOutcome::Recorded; batch.len()];
    for (i, outcome) in claim_dedup_keys(tx, batch, &plan.claimers).await? {
        outcomes[i] = outcome;
    }
    for (i, leader) in plan.repeats {
        outcomes[i] = match &outcomes[leader] {
            AcceptOutcome::Recorded => AcceptOutcome::Duplicate {
                event_id: batch[leader].event.id.clone(),
                run_id: batch[leader]
                    .run
                    .as_ref()
                    .map(|r| r.id.clone())
                    .unwrap_or_default(),
                run_status: RunStatus::Queued,
            },
            duplicate => duplicate.clone(),
        };
    }
    Ok(outcomes)
}

/// The recorded rows' events, runs and outbox rows, and the secrets' last use: four
/// statements sent together (pipelined) on the transaction's connection.
async fn insert_recorded(
    tx: &Transaction<'_>,
    batch: &[EventWrite],
    outcomes: &[AcceptOutcome],
    claim_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let recorded: Vec<&EventWrite> = batch
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| **o == AcceptOutcome::Recorded)
        .map(|(w, _)| w)
        .collect();
    if recorded.is_empty() {
        return Ok(());
    }
    let events = EventColumns::of(&recorded);
    let runs = RunColumns::of(&recorded);
    let uses = last_uses(batch, outcomes);
    let use_ids: Vec<&str> = uses.iter().map(|(id, _)| id.as_str()).collect();
    let use_times: Vec<DateTime<Utc>> = uses.iter().map(|(_, at)| *at).collect();
    let stale_before: Vec<DateTime<Utc>> = use_times
        .iter()
        .map(|at| *at - LAST_USED_GRANULARITY)
        .collect();
    // Prepared first so that the executions below are sent in this order.
    let insert_events = tx
        .prepare_cached(
            "INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id,
                                 disposition, traceparent, headers, body, received_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::jsonb[],
                                  $10::bytea[], $11::timestamptz[])",
        )
        .await?;
    let insert_runs = tx
        .prepare_cached(
            "INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                               created_at, updated_at)
             SELECT id, org, workflow_id, trigger_type, source_id, event_id, 'queued',
                    created_at, created_at
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::timestamptz[])
                  AS r (id, org, workflow_id, trigger_type, source_id, event_id, created_at)",
        )
        .await?;
    let insert_outbox = tx
        .prepare_cached(
            "INSERT INTO outbox (run_id, enqueued_at, claim_expires_at, workflow_id, message,
                                 message_headers)
             SELECT id, at, $3, workflow_id, message, message_headers
             FROM unnest($1::text[], $2::timestamptz[], $4::text[], $5::bytea[], $6::jsonb[])
                  AS o (id, at, workflow_id, message, message_headers)",
        )
        .await?;
    let touch_secrets = tx
        .prepare_cached(
            "UPDATE secrets s SET last_used_at = u.at
             FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])
                  AS u (id, at, stale_before)
             WHERE s.id = u.id AND (s.last_used_at IS NULL OR s.last_used_at < u.stale_before)",
        )
        .await?;
    futures_util::future::try_join4(
        tx.execute(&insert_events, &events.params()),
        async {
            if runs.ids.is_empty() {
                return Ok(0);
            }
            tx.execute(&insert_runs, &runs.params()).await
        },
        async {
            if runs.ids.is_empty() {
                return Ok(0);
            }
            tx.execute(
                &insert_outbox,
                &[
                    &runs.ids,
                    &runs.created_at,
                    &claim_until,
                    &runs.workflows,
                    &runs.messages,
                    &runs.message_headers,
                ],
            )
            .await
        },
        async {
            if use_ids.is_empty() {
                return Ok(0);
            }
            tx.execute(&touch_secrets, &[&use_ids, &use_times, &stale_before])
                .await
        },
    )
    .await?;
    Ok(())
}

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// The recorded events as one array per column, for `unnest`.
struct EventColumns<'a> {
    ids: Vec<&'a str>,
    orgs: Vec<&'a str>,
    sources: Vec<&'a str>,
    dedup_keys: Vec<Option<&'a str>>,
    names: Vec<Option<&'a str>>,
    secrets: Vec<&'a str>,
    dispositions: Vec<&'static str>,
    traceparents: Vec<&'a str>,
    headers: Vec<&'a serde_json::Value>,
    bodies: Vec<&'a [u8]>,
    received_at: Vec<DateTime<Utc>>,
}

impl<'a> EventColumns<'a> {
    fn of(rows: &[&'a EventWrite]) -> Self {
        let events = rows.iter().map(|w| &w.event);
        Self {
            ids: events.clone().map(|e| e.id.as_str()).collect(),
            orgs: events.clone().map(|e| e.org.as_str()).collect(),
            sources: events.clone().map(|e| e.source_id.as_str()).collect(),
            dedup_keys: events.clone().map(|e| e.dedup_key.as_deref()).collect(),
            names: events.clone().map(|e| e.event_name.as_deref()).collect(),
            secrets: events.clone().map(|e| e.secret_id.as_str()).collect(),
            dispositions: events.clone().map(|e| e.disposition.as_str()).collect(),
            traceparents: events.clone().map(|e| e.traceparent.as_str()).collect(),
            headers: events.clone().map(|e| &e.headers).collect(),
            bodies: events.clone().map(|e| e.body.as_ref()).collect(),
            received_at: events.map(|e| e.received_at).collect(),
        }
    }

    fn params(&self) -> [Param<'_>; 11] {
        [
            &self.ids,
            &self.orgs,
            &self.sources,
            &self.dedup_keys,
            &self.names,
            &self.secrets,
            &self.dispositions,
            &self.traceparents,
            &self.headers,
            &self.bodies,
            &self.received_at,
        ]
    }
}

/// The recorded runs as one array per column, for `unnest`.
struct RunColumns<'a> {
    ids: Vec<&'a str>,
    orgs: Vec<&'a str>,
    workflows: Vec<&'a str>,
    trigger_types: Vec<&'static str>,
    sources: Vec<Option<&'a str>>,
    events: Vec<Option<&'a str>>,
    messages: Vec<&'a [u8]>,
    message_headers: Vec<serde_json::Value>,
    created_at: Vec<DateTime<Utc>>,
}

impl<'a> RunColumns<'a> {
    fn of(rows: &[&'a EventWrite]) -> Self {
        let runs = rows.iter().filter_map(|w| w.run.as_ref());
        Self {
            ids: runs.clone().map(|r| r.id.as_str()).collect(),
            orgs: runs.clone().map(|r| r.org.as_str()).collect(),
            workflows: runs.clone().map(|r| r.workflow_id.as_str()).collect(),
            trigger_types: runs.clone().map(|r| r.trigger_type).collect(),
            sources: runs.clone().map(|r| r.source_id.as_deref()).collect(),
            events: runs.clone().map(|r| r.event_id.as_deref()).collect(),
            messages: runs.clone().map(|r| r.message.as_ref()).collect(),
            message_headers: runs
                .clone()
                .map(|r| headers_json(&r.message_headers))
                .collect(),
            created_at: runs.map(|r| r.created_at).collect(),
        }
    }

    fn params(&self) -> [Param<'_>; 7] {
        [
            &self.ids,
            &self.orgs,
            &self.workflows,
            &self.trigger_types,
            &self.sources,
            &self.events,
            &self.created_at,
        ]
    }
}

#[async_trait]
impl IngressStore for PostgresStore {
    async fn record_events(
        &self,
        batch: &[EventWrite],
        claim_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<AcceptOutcome>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcomes = dedup_outcomes(&tx, batch).await?;
        insert_recorded(&tx, batch, &outcomes, claim_until).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO ingress_rejections (id, source_id, at, reason, headers_present)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &rejected.id,
                &rejected.source_id,
                &rejected.at,
                &rejected.reason,
                &rejected.headers_present,
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM ingress_rejections WHERE source_id = $1 AND id NOT IN (
                 SELECT id FROM ingress_rejections WHERE source_id = $1
                 ORDER BY id DESC LIMIT $2)",
            &[&rejected.source_id, &(keep as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_rejections(
        &self,
        source_id: &str,
        limit: usize,
    ) -> Result<Vec<Rejected>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, source_id, at, reason, headers_present FROM ingress_rejections
                 WHERE source_id = $1 ORDER BY id DESC LIMIT $2",
                &[&source_id, &(limit as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Rejected {
                id: row.get("id"),
                source_id: row.get("source_id"),
                at: row.get("at"),
                reason: row.get("reason"),
                headers_present: row.get("headers_present"),
            })
            .collect())
    }
}
