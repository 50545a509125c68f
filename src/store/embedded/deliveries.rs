//! Deliveries and their attempts in SQLite: claims, attempt records, retries,
//! deferrals and retention.

use super::endpoints::{endpoint_from_row, ENDPOINT_COLUMNS};
use super::keyset::keyset_page;
use super::run_events::find_event;
use super::{corrupt, from_millis, millis, optional_time, query_all, to_json, EmbeddedStore};
use crate::store::{
    endpoint_health, parse_slug, Attempt, AttemptRecord, ClaimLimits, Delivery, DeliveryFilter,
    DeliveryStatus, DeliveryStore, DueDelivery, Endpoint, EndpointHealth, HandOff, OrgSlug, Page,
    PageRequest, RecordedRunEvents, RunEventWrite, StoreError,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;
use std::sync::LazyLock;

pub(super) const DELIVERY_COLUMNS: &str =
    "id, org, endpoint_id, event_id, event_type, status, attempts, \
     next_attempt_at, last_status, last_error, last_attempt_at, created_at, updated_at";

pub(super) fn delivery_from_row(row: &Row<'_>) -> Result<Delivery, StoreError> {
    let status: String = row.get("status")?;
    Ok(Delivery {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        endpoint_id: row.get("endpoint_id")?,
        event_id: row.get("event_id")?,
        event_type: row.get("event_type")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("status {status:?}")))?,
        attempts: row.get("attempts")?,
        next_attempt_at: optional_time(row.get("next_attempt_at")?)?,
        last_status: row.get("last_status")?,
        last_error: row.get("last_error")?,
        last_attempt_at: optional_time(row.get("last_attempt_at")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

fn headers_from_json(value: &str) -> Result<Vec<(String, String)>, StoreError> {
    serde_json::from_str(value).map_err(corrupt)
}

/// ?1 now, ?2 total, ?3 endpoints with less room as a JSON object `{id: room}`,
/// ?4 room of every other endpoint, ?5 rows scanned. The oldest due deliveries each
/// endpoint has room for; SQLite has one writer, so nothing else claims meanwhile.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH room AS (
             SELECT key AS endpoint_id, value AS room FROM json_each(?3)
         ), scanned AS (
             SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries d
             WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
               AND (d.claim_expires_at IS NULL OR d.claim_expires_at < ?1)
               AND d.endpoint_id NOT IN (SELECT endpoint_id FROM room WHERE room = 0)
               AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id AND e.enabled = 1)
             ORDER BY d.next_attempt_at LIMIT ?5
         ), ranked AS (
             SELECT s.id, COALESCE(r.room, ?4) AS room,
                    row_number() OVER (PARTITION BY s.endpoint_id
                                       ORDER BY s.next_attempt_at, s.id) AS rank
             FROM scanned s LEFT JOIN room r ON r.endpoint_id = s.endpoint_id
         )
         SELECT {DELIVERY_COLUMNS} FROM deliveries
         WHERE id IN (SELECT id FROM ranked WHERE rank <= room)
         ORDER BY next_attempt_at LIMIT ?2"
    )
});

fn room_json(room: &[(String, usize)]) -> Result<String, StoreError> {
    let object: serde_json::Map<String, serde_json::Value> = room
        .iter()
        .map(|(id, n)| (id.clone(), serde_json::Value::from(*n)))
        .collect();
    to_json(&object)
}

/// Joins each claimed delivery with its endpoint (read once per endpoint) and event.
fn with_endpoints_and_events(
    conn: &Connection,
    deliveries: Vec<Delivery>,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut endpoints: HashMap<String, Endpoint> = HashMap::new();
    let mut due = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        let endpoint = match endpoints.get(&delivery.endpoint_id) {
            Some(endpoint) => endpoint.clone(),
            None => {
                let endpoint = query_all(
                    conn,
                    &format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1"),
                    params![delivery.endpoint_id],
                    endpoint_from_row,
                )?
                .pop()
                .ok_or_else(|| corrupt("delivery without endpoint"))?;
                endpoints.insert(endpoint.id.clone(), endpoint.clone());
                endpoint
            }
        };
        let event = find_event(conn, delivery.org.as_str(), &delivery.event_id)?
            .ok_or_else(|| corrupt("delivery without event"))?;
        due.push(DueDelivery {
            delivery,
            event,
            endpoint,
        });
    }
    Ok(due)
}

/// Inserts each attempt and moves its delivery on; returns each delivery's endpoint.
fn log_attempts(conn: &Connection, records: &[AttemptRecord]) -> Result<Vec<String>, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, request_url,
             request_headers, response_status, response_headers, response_body, error_class,
             next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut update = conn.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4,
                claim_expires_at = NULL, last_status = ?5, last_error = ?6, updated_at = ?7,
                last_attempt_at = ?8
         WHERE id = ?1 RETURNING endpoint_id",
    )?;
    let mut endpoints = Vec::with_capacity(records.len());
    for record in records {
        let a = &record.attempt;
        insert.execute(params![
            a.delivery_id,
            a.attempt,
            millis(&a.started_at),
            a.duration_ms,
            a.request_url,
            to_json(&a.request_headers)?,
            a.response_status,
            a.response_headers.as_ref().map(to_json).transpose()?,
            a.response_body.as_deref(),
            a.error_class,
            a.next_attempt_at.as_ref().map(millis),
        ])?;
        let updated_at = a.started_at + chrono::Duration::milliseconds(i64::from(a.duration_ms));
        endpoints.push(update.query_row(
            params![
                a.delivery_id,
                record.status.as_str(),
                a.attempt,
                record.next_attempt_at.as_ref().map(millis),
                a.response_status,
                record.last_error,
                millis(&updated_at),
                millis(&a.started_at),
            ],
            |row| row.get(0),
        )?);
    }
    Ok(endpoints)
}

/// `(sql condition, values)` for a delivery filter, numbered from `?{first}`.
fn filter_clause(filter: &DeliveryFilter, first: usize) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut clauses = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    let mut add = |clause: &str, value: Box<dyn rusqlite::ToSql>| {
        clauses.push(clause.replace('?', &format!("?{}", first + values.len())));
        values.push(value);
    };
    if let Some(endpoint_id) = &filter.endpoint_id {
        add("endpoint_id = ?", Box::new(endpoint_id.clone()));
    }
    if let Some(status) = filter.status {
        add("status = ?", Box::new(status.as_str()));
    }
    if let Some(tried) = filter.tried {
        add("(attempts > 0) = ?", Box::new(tried));
    }
    if let Some(event_type) = &filter.event_type {
        add("event_type = ?", Box::new(event_type.clone()));
    }
    if let Some(since) = &filter.since {
        add("created_at >= ?", Box::new(millis(since)));
    }
    if let Some(enabled) = filter.endpoint_enabled {
        add(
            "EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.enabled = ?)",
            Box::new(enabled),
        );
    }
    let sql = if clauses.is_empty() {
        "1 = 1".to_owned()
    } else {
        clauses.join(" AND ")
    };
    (sql, values)
}

#[async_trait]
impl DeliveryStore for EmbeddedStore {
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
        let limits = limits.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let deliveries = query_all(
                &tx,
                &CLAIM_SQL,
                params![
                    millis(&now),
                    limits.total as i64,
                    room_json(&limits.room)?,
                    limits.per_endpoint as i64,
                    (limits.total as i64).saturating_mul(4).max(256),
                ],
                delivery_from_row,
            )?;
            let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
            tx.execute(
                "UPDATE deliveries SET claim_expires_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?1))",
                params![to_json(&ids)?, millis(&lease_until)],
            )?;
            let due = with_endpoints_and_events(&tx, deliveries)?;
            tx.commit()?;
            Ok(due)
        })
        .await
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let records = records.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let endpoints = log_attempts(&tx, &records)?;
            let health = endpoint_health(
                records
                    .iter()
                    .zip(&endpoints)
                    .map(|(r, e)| (e.as_str(), r.endpoint_ok, r.attempt.started_at)),
            );
            for (endpoint_id, change) in health {
                let (reset, at) = match change {
                    EndpointHealth::FailingSinceOr(at) => (false, Some(at)),
                    EndpointHealth::Recovered(since) => (true, since),
                };
                tx.prepare_cached(
                    "UPDATE endpoints SET failing_since = CASE WHEN ?2 THEN ?3 ELSE COALESCE(failing_since, ?3) END
                     WHERE id = ?1",
                )?
                .execute(params![endpoint_id, reset, at.as_ref().map(millis)])?;
            }
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1");
            Ok(query_all(conn, &sql, params![id], delivery_from_row)?.pop())
        })
        .await
    }

    async fn list_attempts(&self, delivery_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let delivery_id = delivery_id.to_owned();
        self.with_conn(move |conn| {
            query_all(
                conn,
                "SELECT delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                        response_status, response_headers, response_body, error_class, next_attempt_at
                 FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
                params![delivery_id],
                |row| {
                    let response_headers: Option<String> = row.get("response_headers")?;
                    let body: Option<Vec<u8>> = row.get("response_body")?;
                    Ok(Attempt {
                        delivery_id: row.get("delivery_id")?,
                        attempt: row.get("attempt")?,
                        started_at: from_millis(row.get("started_at")?)?,
                        duration_ms: row.get("duration_ms")?,
                        request_url: row.get("request_url")?,
                        request_headers: headers_from_json(&row.get::<_, String>("request_headers")?)?,
                        response_status: row.get("response_status")?,
                        response_headers: response_headers.as_deref().map(headers_from_json).transpose()?,
                        response_body: body.map(Bytes::from),
                        error_class: row.get("error_class")?,
                        next_attempt_at: optional_time(row.get("next_attempt_at")?)?,
                    })
                },
            )
        })
        .await
    }

    async fn list_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let (org, filter, page) = (org.clone(), filter.clone(), page.clone());
        self.with_conn(move |conn| {
            let (condition, values) = filter_clause(&filter, 2);
            let select =
                format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE org = ?1 AND {condition}");
            let org = org.as_str().to_owned();
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org];
            all.extend(values.iter().map(|v| v.as_ref()));
            keyset_page(
                conn,
                &select,
                &all,
                &page,
                delivery_from_row,
                |d: &Delivery| &d.id,
            )
        })
        .await
    }

    async fn retry_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        delivery_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (org, filter, delivery_id) =
            (org.clone(), filter.clone(), delivery_id.map(str::to_owned));
        self.with_conn(move |conn| {
            let (condition, values) = filter_clause(&filter, 4);
            let sql = format!(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?3, claim_expires_at = NULL,
                        updated_at = ?3
                 WHERE org = ?1 AND (?2 IS NULL OR id = ?2) AND (status <> 'delivered' OR ?2 IS NOT NULL)
                   AND {condition}"
            );
            let now = millis(&now);
            let org = org.as_str().to_owned();
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org, &delivery_id, &now];
            all.extend(values.iter().map(|v| v.as_ref()));
            Ok(conn.execute(&sql, all.as_slice())? as u64)
        })
        .await
    }

    async fn defer_deliveries(
        &self,
        deferrals: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        if deferrals.is_empty() {
            return Ok(());
        }
        let deferrals = deferrals.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut defer = tx.prepare_cached(
                    "UPDATE deliveries SET next_attempt_at = ?2, claim_expires_at = NULL
                     WHERE id = ?1 AND status = 'pending'",
                )?;
                for (id, until) in &deferrals {
                    defer.execute(params![id, millis(until)])?;
                }
            }
            Ok(tx.commit()?)
        })
        .await
    }

    async fn purge_attempt_bodies(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute(
                "UPDATE delivery_attempts SET response_body = NULL
                 WHERE started_at < ?1 AND response_body IS NOT NULL",
                params![millis(&before)],
            )? as u64)
        })
        .await
    }
}
