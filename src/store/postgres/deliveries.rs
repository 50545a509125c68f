//! Deliveries and their attempts in PostgreSQL: claims, attempt records, retries,
//! deferrals and the delivery tables' housekeeping.

use super::endpoints::{endpoint_named, EndpointNames, ENDPOINT_COLUMNS};
use super::{corrupt, PostgresStore};
use crate::store::{
    endpoint_health, parse_slug, Attempt, AttemptRecord, ClaimLimits, Delivery, DeliveryFilter,
    DeliveryStatus, DeliveryStore, DueDelivery, EndpointHealth, HandOff, OrgSlug, Page,
    PageRequest, RecordedRunEvents, RunEvent, RunEventWrite, StoreError,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::LazyLock;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

pub(super) const DELIVERY_COLUMNS: &str = "d.id, d.org, d.endpoint_id, d.event_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.last_attempt_at, d.created_at, d.updated_at";

/// As [`CLAIM_SQL`] names them.
const CLAIMED_ENDPOINT: EndpointNames = EndpointNames {
    id: "e_id",
    org: "e_org",
    created_at: "e_created_at",
    updated_at: "e_updated_at",
};

pub(super) fn delivery_from_row(row: &Row) -> Result<Delivery, StoreError> {
    let status: String = row.get("status");
    let attempts: i32 = row.get("attempts");
    let last_status: Option<i32> = row.get("last_status");
    Ok(Delivery {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        endpoint_id: row.get("endpoint_id"),
        event_id: row.get("event_id"),
        event_type: row.get("event_type"),
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("status {status:?}")))?,
        attempts: u32::try_from(attempts).map_err(corrupt)?,
        next_attempt_at: row.get("next_attempt_at"),
        last_status: last_status
            .map(u16::try_from)
            .transpose()
            .map_err(corrupt)?,
        last_error: row.get("last_error"),
        last_attempt_at: row.get("last_attempt_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

/// Rows scanned (oldest due first) to pick a claim from: enough that a few endpoints
/// with no room left do not hide the others' deliveries behind theirs.
const CLAIM_SCAN_FACTOR: i64 = 2;
const CLAIM_SCAN_MIN: i64 = 128;

/// $1 now, $2 total, $3 lease until, $4/$5 endpoints with less room and their room,
/// $6 room of every other endpoint, $7 rows scanned, $8 endpoints with no room.
/// The ranking picks (without locking) the oldest due deliveries each endpoint has
/// room for; the lock then skips whatever another claimer holds and re-checks the
/// claim on the row it locks. `= ANY(ARRAY(…))` rather than `IN (…)`: the planner
/// then looks the picks up by primary key instead of scanning the whole table.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH room AS (
             SELECT * FROM unnest($4::text[], $5::int8[]) AS r(endpoint_id, room)
         ), scanned AS (
             SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries d
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
               AND (d.claim_expires_at IS NULL OR d.claim_expires_at < $1)
               AND d.endpoint_id <> ALL($8::text[])
               AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id AND e.enabled)
             ORDER BY d.next_attempt_at LIMIT $7
         ), ranked AS (
             SELECT s.id, COALESCE(r.room, $6) AS room,
                    row_number() OVER (PARTITION BY s.endpoint_id
                                       ORDER BY s.next_attempt_at, s.id) AS rank
             FROM scanned s LEFT JOIN room r ON r.endpoint_id = s.endpoint_id
         ), due AS (
             SELECT d.id FROM deliveries d
             WHERE d.id = ANY(ARRAY(SELECT id FROM ranked WHERE rank <= room))
               AND d.status = 'pending'
               AND (d.claim_expires_at IS NULL OR d.claim_expires_at < $1)
             ORDER BY d.next_attempt_at LIMIT $2
             FOR UPDATE OF d SKIP LOCKED
         ), claimed AS (
             UPDATE deliveries SET claim_expires_at = $3 FROM due
             WHERE deliveries.id = due.id RETURNING deliveries.*
         )
         SELECT {DELIVERY_COLUMNS}, {ENDPOINT_COLUMNS},
                v.type AS v_type, v.run_id AS v_run_id, v.workflow_id AS v_workflow_id,
                v.occurred_at AS v_occurred_at, v.data AS v_data, v.received_at AS v_received_at,
                v.traceparent AS v_traceparent
         FROM claimed d
         JOIN endpoints e ON e.id = d.endpoint_id
         JOIN run_events v ON v.org = d.org AND v.id = d.event_id
         ORDER BY d.next_attempt_at"
    )
    .replace("e.id, e.org,", "e.id AS e_id, e.org AS e_org,")
    .replace(
        "e.created_at, e.updated_at",
        "e.created_at AS e_created_at, e.updated_at AS e_updated_at",
    )
});

/// A batch of attempts as columns: logged, and their deliveries moved on, in one
/// statement; returns each delivery's endpoint for the health update.
const RECORD_ATTEMPTS_SQL: &str = "WITH input AS (
         SELECT * FROM unnest($1::text[], $2::int4[], $3::timestamptz[], $4::int4[], $5::text[],
                              $6::jsonb[], $7::int4[], $8::jsonb[], $9::bytea[], $10::text[],
                              $11::timestamptz[], $12::text[], $13::timestamptz[], $14::text[],
                              $15::timestamptz[])
             AS i(delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                  response_status, response_headers, response_body, error_class, attempt_next,
                  status, next_attempt_at, last_error, updated_at)
     ), logged AS (
         INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, request_url,
             request_headers, response_status, response_headers, response_body, error_class,
             next_attempt_at)
         SELECT delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                response_status, response_headers, response_body, error_class, attempt_next
         FROM input
     )
     UPDATE deliveries d SET status = i.status, attempts = i.attempt,
            next_attempt_at = i.next_attempt_at, claim_expires_at = NULL,
            last_status = i.response_status, last_error = i.last_error, updated_at = i.updated_at,
            last_attempt_at = i.started_at
     FROM input i WHERE d.id = i.delivery_id
     RETURNING d.id, d.endpoint_id";

/// Rows whose `failing_since` would not change are not written (no dead tuples, no
/// lock on a busy endpoint's row when nothing changed).
const ENDPOINT_HEALTH_SQL: &str = "UPDATE endpoints e
     SET failing_since = CASE WHEN h.reset THEN h.at ELSE COALESCE(e.failing_since, h.at) END
     FROM unnest($1::text[], $2::bool[], $3::timestamptz[]) AS h(id, reset, at)
     WHERE e.id = h.id
       AND e.failing_since IS DISTINCT FROM
           (CASE WHEN h.reset THEN h.at ELSE COALESCE(e.failing_since, h.at) END)";

/// The parameters of [`RECORD_ATTEMPTS_SQL`], one array per column.
struct AttemptColumns<'a> {
    delivery_id: Vec<&'a str>,
    attempt: Vec<i32>,
    started_at: Vec<DateTime<Utc>>,
    duration_ms: Vec<i32>,
    request_url: Vec<&'a str>,
    request_headers: Vec<serde_json::Value>,
    response_status: Vec<Option<i32>>,
    response_headers: Vec<Option<serde_json::Value>>,
    response_body: Vec<Option<&'a [u8]>>,
    error_class: Vec<Option<&'a str>>,
    attempt_next: Vec<Option<DateTime<Utc>>>,
    status: Vec<&'static str>,
    next_attempt_at: Vec<Option<DateTime<Utc>>>,
    last_error: Vec<Option<&'a str>>,
    updated_at: Vec<DateTime<Utc>>,
}

fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl<'a> AttemptColumns<'a> {
    fn new(records: &'a [AttemptRecord]) -> Self {
        let mut columns = Self {
            delivery_id: Vec::with_capacity(records.len()),
            attempt: Vec::with_capacity(records.len()),
            started_at: Vec::with_capacity(records.len()),
            duration_ms: Vec::with_capacity(records.len()),
            request_url: Vec::with_capacity(records.len()),
            request_headers: Vec::with_capacity(records.len()),
            response_status: Vec::with_capacity(records.len()),
            response_headers: Vec::with_capacity(records.len()),
            response_body: Vec::with_capacity(records.len()),
            error_class: Vec::with_capacity(records.len()),
            attempt_next: Vec::with_capacity(records.len()),
            status: Vec::with_capacity(records.len()),
            next_attempt_at: Vec::with_capacity(records.len()),
            last_error: Vec::with_capacity(records.len()),
            updated_at: Vec::with_capacity(records.len()),
        };
        for record in records {
            columns.push(record);
        }
        columns
    }

    fn push(&mut self, record: &'a AttemptRecord) {
        let a = &record.attempt;
        self.delivery_id.push(&a.delivery_id);
        self.attempt.push(int(a.attempt));
        self.started_at.push(a.started_at);
        self.duration_ms.push(int(a.duration_ms));
        self.request_url.push(&a.request_url);
        self.request_headers.push(headers_json(&a.request_headers));
        self.response_status.push(a.response_status.map(i32::from));
        self.response_headers
            .push(a.response_headers.as_deref().map(headers_json));
        self.response_body.push(a.response_body.as_deref());
        self.error_class.push(a.error_class.as_deref());
        self.attempt_next.push(a.next_attempt_at);
        self.status.push(record.status.as_str());
        self.next_attempt_at.push(record.next_attempt_at);
        self.last_error.push(record.last_error.as_deref());
        self.updated_at
            .push(a.started_at + chrono::Duration::milliseconds(i64::from(a.duration_ms)));
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        [
            &self.delivery_id,
            &self.attempt,
            &self.started_at,
            &self.duration_ms,
            &self.request_url,
            &self.request_headers,
            &self.response_status,
            &self.response_headers,
            &self.response_body,
            &self.error_class,
            &self.attempt_next,
            &self.status,
            &self.next_attempt_at,
            &self.last_error,
            &self.updated_at,
        ]
    }
}

/// [`endpoint_health`] as the columns of [`ENDPOINT_HEALTH_SQL`].
#[derive(Default)]
struct HealthColumns<'a> {
    ids: Vec<&'a str>,
    resets: Vec<bool>,
    ats: Vec<Option<DateTime<Utc>>>,
}

fn health_columns<'a>(health: &[(&'a str, EndpointHealth)]) -> HealthColumns<'a> {
    let mut columns = HealthColumns::default();
    for (id, change) in health {
        let (reset, at) = match *change {
            EndpointHealth::FailingSinceOr(at) => (false, Some(at)),
            EndpointHealth::Recovered(since) => (true, since),
        };
        columns.ids.push(*id);
        columns.resets.push(reset);
        columns.ats.push(at);
    }
    columns
}

fn due_from_row(row: &Row) -> Result<DueDelivery, StoreError> {
    let delivery = delivery_from_row(row)?;
    let endpoint = endpoint_named(row, &CLAIMED_ENDPOINT)?;
    let event = RunEvent {
        id: delivery.event_id.clone(),
        org: delivery.org.clone(),
        event_type: row.get("v_type"),
        run_id: row.get("v_run_id"),
        workflow_id: row.get("v_workflow_id"),
        occurred_at: row.get("v_occurred_at"),
        data: row.get("v_data"),
        received_at: row.get("v_received_at"),
        traceparent: row.get("v_traceparent"),
    };
    Ok(DueDelivery {
        delivery,
        event,
        endpoint,
    })
}

fn headers_json(headers: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Array(
        headers
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect(),
    )
}

fn headers_from_json(value: &serde_json::Value) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| {
                    Some((
                        pair.get(0)?.as_str()?.to_owned(),
                        pair.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl DeliveryStore for PostgresStore {
    async fn record_and_claim_run_events(
        &self,
        batch: &[RunEventWrite],
        hand_off: Option<&HandOff>,
    ) -> Result<RecordedRunEvents, StoreError> {
        self.record_and_fan_out(batch, hand_off).await
    }

    async fn claim_due_deliveries(
        &self,
        limits: &ClaimLimits,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        if limits.total == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let (room_ids, room): (Vec<&str>, Vec<i64>) = limits
            .room
            .iter()
            .map(|(id, n)| (id.as_str(), i64::try_from(*n).unwrap_or(i64::MAX)))
            .unzip();
        let full: Vec<&str> = limits
            .room
            .iter()
            .filter(|(_, n)| *n == 0)
            .map(|(id, _)| id.as_str())
            .collect();
        let total = i64::try_from(limits.total).unwrap_or(i64::MAX);
        let per_endpoint = i64::try_from(limits.per_endpoint).unwrap_or(i64::MAX);
        let scan = total.saturating_mul(CLAIM_SCAN_FACTOR).max(CLAIM_SCAN_MIN);
        let statement = client.prepare_cached(&CLAIM_SQL).await?;
        let rows = client
            .query(
                &statement,
                &[
                    &now,
                    &total,
                    &lease_until,
                    &room_ids,
                    &room,
                    &per_endpoint,
                    &scan,
                    &full,
                ],
            )
            .await?;
        rows.iter().map(due_from_row).collect()
    }
    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let columns = AttemptColumns::new(records);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let statement = tx.prepare_cached(RECORD_ATTEMPTS_SQL).await?;
        let rows = tx.query(&statement, &columns.params()).await?;
        let endpoint_of: HashMap<String, String> =
            rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        let health = endpoint_health(records.iter().filter_map(|record| {
            let endpoint = endpoint_of.get(&record.attempt.delivery_id)?;
            Some((
                endpoint.as_str(),
                record.endpoint_ok,
                record.attempt.started_at,
            ))
        }));
        if !health.is_empty() {
            let columns = health_columns(&health);
            let statement = tx.prepare_cached(ENDPOINT_HEALTH_SQL).await?;
            tx.execute(&statement, &[&columns.ids, &columns.resets, &columns.ats])
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn list_attempts(&self, delivery_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                        response_status, response_headers, response_body, error_class, next_attempt_at
                 FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
                &[&delivery_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let attempt: i32 = row.get("attempt");
                let duration: i32 = row.get("duration_ms");
                let status: Option<i32> = row.get("response_status");
                let response_headers: Option<serde_json::Value> = row.get("response_headers");
                let body: Option<Vec<u8>> = row.get("response_body");
                Ok(Attempt {
                    delivery_id: row.get("delivery_id"),
                    attempt: u32::try_from(attempt).map_err(corrupt)?,
                    started_at: row.get("started_at"),
                    duration_ms: u32::try_from(duration).map_err(corrupt)?,
                    request_url: row.get("request_url"),
                    request_headers: headers_from_json(&row.get("request_headers")),
                    response_status: status.map(u16::try_from).transpose().map_err(corrupt)?,
                    response_headers: response_headers.as_ref().map(headers_from_json),
                    response_body: body.map(Bytes::from),
                    error_class: row.get("error_class"),
                    next_attempt_at: row.get("next_attempt_at"),
                })
            })
            .collect()
    }

    async fn list_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let select = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.org = $1 AND ($2::text IS NULL OR d.endpoint_id = $2)
               AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR d.event_type = $4)
               AND ($5::timestamptz IS NULL OR d.created_at >= $5)
               AND ($6::bool IS NULL OR (d.attempts > 0) = $6)
               AND ($7::bool IS NULL OR EXISTS (SELECT 1 FROM endpoints e
                                                 WHERE e.id = d.endpoint_id AND e.enabled = $7))"
        );
        let status = filter.status.map(DeliveryStatus::as_str);
        self.keyset_page(
            &select,
            "d.id",
            &[
                &org.as_str(),
                &filter.endpoint_id,
                &status,
                &filter.event_type,
                &filter.since,
                &filter.tried,
                &filter.endpoint_enabled,
            ],
            page,
            delivery_from_row,
            |d: &Delivery| &d.id,
        )
        .await
    }

    async fn retry_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        delivery_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let status = filter.status.map(DeliveryStatus::as_str);
        let count = client
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $7, claim_expires_at = NULL,
                        updated_at = $7
                 WHERE org = $1 AND (status <> 'delivered' OR $6::text IS NOT NULL)
                   AND ($2::text IS NULL OR endpoint_id = $2) AND ($3::text IS NULL OR status = $3)
                   AND ($4::text IS NULL OR event_type = $4) AND ($5::timestamptz IS NULL OR created_at >= $5)
                   AND ($6::text IS NULL OR id = $6) AND ($8::bool IS NULL OR (attempts > 0) = $8)",
                &[&org.as_str(), &filter.endpoint_id, &status, &filter.event_type, &filter.since, &delivery_id, &now, &filter.tried],
            )
            .await?;
        Ok(count)
    }

    async fn defer_deliveries(
        &self,
        deferrals: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        if deferrals.is_empty() {
            return Ok(());
        }
        let (ids, until): (Vec<&str>, Vec<DateTime<Utc>>) = deferrals
            .iter()
            .map(|(id, until)| (id.as_str(), *until))
            .unzip();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "UPDATE deliveries d SET next_attempt_at = u.until, claim_expires_at = NULL
                 FROM unnest($1::text[], $2::timestamptz[]) AS u(id, until)
                 WHERE d.id = u.id AND d.status = 'pending'",
            )
            .await?;
        client.execute(&statement, &[&ids, &until]).await?;
        Ok(())
    }

    async fn maintain_deliveries(&self, vacuum: bool) -> Result<(), StoreError> {
        // As for the outbox (see `maintain_outbox`): autovacuum may be slow or off.
        // Statistics matter most: planned with those of a near-empty table, the claim
        // scan became a bitmap scan of every due delivery plus a sort (10k rows read
        // for a claim of 512 in a fan-out burst) instead of an index walk that stops at
        // the limit. So the table is re-analysed as soon as a tenth of it has changed,
        // autovacuum's own threshold, without waiting for autovacuum's minute. Only
        // `deliveries`: the claim reads the others by primary key, and sampling their
        // JSON rows too took ~330 ms a time, a fifth of PostgreSQL's time in a fan-out
        // burst of 40,000 deliveries (pg_stat_statements).
        let client = self.client().await?;
        let stale = client
            .query_opt(
                "SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                 WHERE s.relid = 'deliveries'::regclass
                   AND s.n_mod_since_analyze > 500 + 0.1 * greatest(c.reltuples, 0)",
                &[],
            )
            .await?
            .is_some();
        if stale {
            client.batch_execute("ANALYZE deliveries").await?;
        }
        if vacuum {
            client.batch_execute("VACUUM deliveries").await?;
        }
        Ok(())
    }

    async fn purge_attempt_bodies(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE delivery_attempts SET response_body = NULL
                 WHERE started_at < $1 AND response_body IS NOT NULL",
                &[&before],
            )
            .await?)
    }
}
