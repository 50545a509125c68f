//! Inbound events, runs, the outbox and rejections in PostgreSQL.
//!
//! A group commit is one statement (data-modifying CTEs over `unnest`ed arrays), so one
//! round trip and one implicit transaction: PostgreSQL's cost per statement and per
//! round trip, not per row, is what limits ingress (SPEC §10).

use super::runs::{headers_json, run_status};
use super::PostgresStore;
use crate::store::{
    AcceptOutcome, EventWrite, IngressStore, Rejected, RunStatus, StoreError, LAST_USED_GRANULARITY,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// Records a batch in one statement, in this order: claim the de-dup keys of the rows
/// that carry one (a claim whose window has passed is taken over); insert the events
/// that need no claim or got theirs; their runs and outbox rows (pre-claimed until
/// `$26` when the relay takes them in memory); the secrets' last use. Returns the
/// event ids whose claim succeeded. Data-modifying CTEs all run, referenced or not,
/// and the whole statement is one transaction.
const RECORD_BATCH: &str = "
WITH claimed AS (
    INSERT INTO ingress_dedup (source_id, dedup_key, event_id, run_id, expires_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
    ON CONFLICT (source_id, dedup_key) DO UPDATE
       SET event_id = EXCLUDED.event_id, run_id = EXCLUDED.run_id,
           expires_at = EXCLUDED.expires_at
       WHERE ingress_dedup.expires_at <= $6
    RETURNING event_id
), recorded AS (
    INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id, disposition,
                        traceparent, headers, body, received_at, run_id, body_bytes)
    SELECT id, org, source_id, dedup_key, event_name, secret_id, disposition, traceparent,
           headers, body, received_at, run_id, octet_length(body)
    FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::text[], $14::text[], $15::jsonb[], $16::bytea[], $17::timestamptz[],
                $18::bool[], $33::text[])
         AS e (id, org, source_id, dedup_key, event_name, secret_id, disposition,
               traceparent, headers, body, received_at, claims_key, run_id)
    WHERE NOT e.claims_key OR e.id IN (SELECT event_id FROM claimed)
    RETURNING id, secret_id, received_at
), runs_recorded AS (
    INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                      created_at, updated_at)
    SELECT id, org, workflow_id, trigger_type, source_id, event_id, 'queued', created_at,
           created_at
    FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[],
                $24::text[], $25::timestamptz[], $32::text[])
         AS r (id, org, workflow_id, trigger_type, source_id, event_id, created_at,
               written_with)
    WHERE r.written_with IN (SELECT id FROM recorded)
), outbox_recorded AS (
    INSERT INTO outbox (run_id, enqueued_at, claim_expires_at, workflow_id, message,
                        message_tail, body_event_id, message_headers)
    SELECT id, created_at, $26, workflow_id, message, message_tail, body_event_id,
           message_headers
    FROM unnest($19::text[], $25::timestamptz[], $21::text[], $27::bytea[], $28::bytea[],
                $29::text[], $30::jsonb[], $32::text[])
         AS o (id, created_at, workflow_id, message, message_tail, body_event_id,
               message_headers, written_with)
    WHERE o.written_with IN (SELECT id FROM recorded)
), secrets_used AS (
    UPDATE secrets s SET last_used_at = u.at
    FROM (SELECT secret_id, max(received_at) AS at FROM recorded GROUP BY secret_id) AS u
    WHERE s.id = u.secret_id
      AND (s.last_used_at IS NULL OR s.last_used_at < u.at - make_interval(secs => $31))
)
SELECT event_id FROM claimed";

/// The event and run that already hold the keys of `rows`.
async fn existing_claims(
    client: &deadpool_postgres::Client,
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
    let found = client
        .query(
            &client
                .prepare_cached(concat!(
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

impl DedupPlan {
    /// The rows the statement writes (all but the repeats, which are answered from
    /// their leader), each with whether it claims a de-dup key.
    fn rows_to_write<'a>(&self, batch: &'a [EventWrite]) -> (Vec<&'a EventWrite>, Vec<bool>) {
        let mut claims_key = vec![false; batch.len()];
        for &i in &self.claimers {
            claims_key[i] = true;
        }
        let mut repeat = vec![false; batch.len()];
        for &(i, _) in &self.repeats {
            repeat[i] = true;
        }
        batch
            .iter()
            .zip(claims_key)
            .zip(repeat)
            .filter(|(_, repeat)| !repeat)
            .map(|((write, claims), _)| (write, claims))
            .unzip()
    }
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

/// The de-dup claims of a batch as one array per column, in (source, key) order so
/// that concurrent batches take key locks in the same order and cannot deadlock.
struct ClaimColumns<'a> {
    sources: Vec<&'a str>,
    keys: Vec<&'a str>,
    event_ids: Vec<&'a str>,
    run_ids: Vec<&'a str>,
    expiries: Vec<DateTime<Utc>>,
    /// Claims that expired before this are taken over.
    earliest: Option<DateTime<Utc>>,
}

impl<'a> ClaimColumns<'a> {
    fn of(batch: &'a [EventWrite], claimers: &[usize]) -> Result<Self, StoreError> {
        let mut columns = Self {
            sources: Vec::with_capacity(claimers.len()),
            keys: Vec::with_capacity(claimers.len()),
            event_ids: Vec::with_capacity(claimers.len()),
            run_ids: Vec::with_capacity(claimers.len()),
            expiries: Vec::with_capacity(claimers.len()),
            earliest: None,
        };
        for &i in claimers {
            let (event, run) = (&batch[i].event, batch[i].run.as_ref());
            let window = chrono::Duration::from_std(event.dedup_window)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            columns.sources.push(event.source_id.as_str());
            columns
                .keys
                .push(event.dedup_key.as_deref().unwrap_or_default());
            columns.event_ids.push(event.id.as_str());
            columns
                .run_ids
                .push(run.map(|r| r.id.as_str()).unwrap_or_default());
            columns.expiries.push(event.received_at + window);
            columns.earliest = Some(
                columns
                    .earliest
                    .map_or(event.received_at, |e| e.min(event.received_at)),
            );
        }
        Ok(columns)
    }
}

/// What each row of the batch became, given the event ids whose claim succeeded:
/// recorded, or a duplicate of what holds its key.
async fn outcomes(
    client: &deadpool_postgres::Client,
    batch: &[EventWrite],
    plan: &DedupPlan,
    claimed: &HashSet<String>,
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let mut outcomes = vec![AcceptOutcome::Recorded; batch.len()];
    let taken: Vec<usize> = plan
        .claimers
        .iter()
        .copied()
        .filter(|&i| !claimed.contains(&batch[i].event.id))
        .collect();
    if !taken.is_empty() {
        for (i, outcome) in existing_claims(client, batch, &taken).await? {
            outcomes[i] = outcome;
        }
    }
    for &(i, leader) in &plan.repeats {
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

/// Moves each original event's `duplicates` and `last_duplicate_at` by the duplicates
/// of it in this batch. After the batch's own statement, and only when it answered a
/// duplicate: a counter, not part of what the batch made durable.
async fn count_duplicates(
    client: &deadpool_postgres::Client,
    batch: &[EventWrite],
    outcomes: &[AcceptOutcome],
) -> Result<(), StoreError> {
    let mut counted: HashMap<&str, (i32, DateTime<Utc>)> = HashMap::new();
    for (write, outcome) in batch.iter().zip(outcomes) {
        if let AcceptOutcome::Duplicate { event_id, .. } = outcome {
            let at = write.event.received_at;
            let entry = counted.entry(event_id.as_str()).or_insert((0, at));
            *entry = (entry.0 + 1, entry.1.max(at));
        }
    }
    if counted.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(counted.len());
    let mut counts = Vec::with_capacity(counted.len());
    let mut ats = Vec::with_capacity(counted.len());
    for (id, (count, at)) in counted {
        ids.push(id);
        counts.push(count);
        ats.push(at);
    }
    let statement = client
        .prepare_cached(
            "UPDATE events e SET duplicates = e.duplicates + c.n,
                    last_duplicate_at = GREATEST(e.last_duplicate_at, c.at)
             FROM unnest($1::text[], $2::int4[], $3::timestamptz[]) AS c (id, n, at)
             WHERE e.id = c.id",
        )
        .await?;
    client.execute(&statement, &[&ids, &counts, &ats]).await?;
    Ok(())
}

/// The run message's bytes before and after the event body it embeds verbatim as its
/// `input` (SPEC §4), or `None` when it does not (a non-JSON body travels as base64).
///
/// The message's first `,"input":` is its `input` key: every earlier value is a JSON
/// string, where a quote is always escaped, so the sequence cannot occur inside one.
fn split_around_body<'m>(message: &'m [u8], body: &[u8]) -> Option<(&'m [u8], &'m [u8])> {
    const INPUT_KEY: &[u8] = b",\"input\":";
    let key_at = message
        .windows(INPUT_KEY.len())
        .position(|window| window == INPUT_KEY)?;
    let body_at = key_at + INPUT_KEY.len();
    let (head, rest) = message.split_at(body_at);
    let tail = rest.strip_prefix(body)?;
    Some((head, tail))
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
    run_ids: Vec<Option<&'a str>>,
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
            run_ids: rows
                .iter()
                .map(|w| w.run.as_ref().map(|r| r.id.as_str()))
                .collect(),
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
    /// The id of the event each run is written with: a run (and its outbox row) is
    /// recorded exactly when that event is.
    written_with: Vec<&'a str>,
    /// The message, or the part of it before the event body it embeds.
    messages: Vec<&'a [u8]>,
    /// The part after the embedded body; `None` when the message is whole.
    message_tails: Vec<Option<&'a [u8]>>,
    /// The event whose body completes the message.
    body_event_ids: Vec<Option<&'a str>>,
    message_headers: Vec<serde_json::Value>,
    created_at: Vec<DateTime<Utc>>,
}

impl<'a> RunColumns<'a> {
    fn of(rows: &[&'a EventWrite]) -> Self {
        let mut columns = Self {
            ids: Vec::with_capacity(rows.len()),
            orgs: Vec::with_capacity(rows.len()),
            workflows: Vec::with_capacity(rows.len()),
            trigger_types: Vec::with_capacity(rows.len()),
            sources: Vec::with_capacity(rows.len()),
            events: Vec::with_capacity(rows.len()),
            written_with: Vec::with_capacity(rows.len()),
            messages: Vec::with_capacity(rows.len()),
            message_tails: Vec::with_capacity(rows.len()),
            body_event_ids: Vec::with_capacity(rows.len()),
            message_headers: Vec::with_capacity(rows.len()),
            created_at: Vec::with_capacity(rows.len()),
        };
        for write in rows {
            let Some(run) = write.run.as_ref() else {
                continue;
            };
            columns.ids.push(run.id.as_str());
            columns.orgs.push(run.org.as_str());
            columns.workflows.push(run.workflow_id.as_str());
            columns.trigger_types.push(run.trigger_type);
            columns.sources.push(run.source_id.as_deref());
            columns.events.push(run.event_id.as_deref());
            columns.written_with.push(write.event.id.as_str());
            match split_around_body(&run.message, &write.event.body) {
                Some((head, tail)) => {
                    columns.messages.push(head);
                    columns.message_tails.push(Some(tail));
                    columns.body_event_ids.push(Some(write.event.id.as_str()));
                }
                None => {
                    columns.messages.push(run.message.as_ref());
                    columns.message_tails.push(None);
                    columns.body_event_ids.push(None);
                }
            }
            columns
                .message_headers
                .push(headers_json(&run.message_headers));
            columns.created_at.push(run.created_at);
        }
        columns
    }
}

#[async_trait]
impl IngressStore for PostgresStore {
    async fn record_events(
        &self,
        batch: &[EventWrite],
        claim_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<AcceptOutcome>, StoreError> {
        let plan = plan_dedup(batch);
        let (candidates, claims_key) = plan.rows_to_write(batch);
        let claims = ClaimColumns::of(batch, &plan.claimers)?;
        let events = EventColumns::of(&candidates);
        let runs = RunColumns::of(&candidates);
        let granularity = LAST_USED_GRANULARITY.num_milliseconds() as f64 / 1000.0;
        let client = self.client().await?;
        let statement = client.prepare_cached(RECORD_BATCH).await?;
        let [e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11] = events.params();
        let params: [Param<'_>; 33] = [
            &claims.sources,
            &claims.keys,
            &claims.event_ids,
            &claims.run_ids,
            &claims.expiries,
            &claims.earliest,
            e1,
            e2,
            e3,
            e4,
            e5,
            e6,
            e7,
            e8,
            e9,
            e10,
            e11,
            &claims_key,
            &runs.ids,
            &runs.orgs,
            &runs.workflows,
            &runs.trigger_types,
            &runs.sources,
            &runs.events,
            &runs.created_at,
            &claim_until,
            &runs.messages,
            &runs.message_tails,
            &runs.body_event_ids,
            &runs.message_headers,
            &granularity,
            &runs.written_with,
            &events.run_ids,
        ];
        let claimed: HashSet<String> = client
            .query(&statement, &params)
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let outcomes = outcomes(&client, batch, &plan, &claimed).await?;
        count_duplicates(&client, batch, &outcomes).await?;
        Ok(outcomes)
    }

    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO ingress_rejections (id, source_id, at, reason, headers_present, detail)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &rejected.id,
                &rejected.source_id,
                &rejected.at,
                &rejected.reason,
                &rejected.headers_present,
                &rejected.detail,
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
                "SELECT id, source_id, at, reason, headers_present, detail FROM ingress_rejections
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
                detail: row.get::<_, Option<String>>("detail").unwrap_or_default(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::split_around_body;

    #[test]
    fn message_splits_around_the_body_it_embeds_verbatim() {
        let body = br#"{"note":",\"input\":1","n":2}"#;
        let message = [
            br#"{"run_id":"run_1","trigger":{"type":"webhook"},"input":"#.as_slice(),
            body,
            br#","headers":{}}"#,
        ]
        .concat();
        let (head, tail) = split_around_body(&message, body).unwrap();
        assert!(head.ends_with(br#""input":"#));
        assert_eq!(tail, br#","headers":{}}"#);
        assert_eq!([head, body.as_slice(), tail].concat(), message);
    }

    #[test]
    fn message_without_the_verbatim_body_stays_whole() {
        let message = br#"{"run_id":"r","input":{"raw_base64":"YT0x"},"headers":{}}"#;
        assert_eq!(split_around_body(message, b"a=1"), None);
        assert_eq!(split_around_body(br#"{"input":{}}"#, b"{}"), None);
    }
}
