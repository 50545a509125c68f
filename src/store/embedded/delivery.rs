//! Endpoints, run events, deliveries and attempts in SQLite.

use super::sources::insert_secret;
use super::{change_audited, from_millis, insert_audit, millis, query_all, EmbeddedStore};
use crate::id::new_id;
use crate::store::{
    endpoint_health, parse_slug, Attempt, AttemptRecord, AuditEntry, ClaimLimits, Delivery,
    DeliveryFilter, DeliveryStatus, DeliveryStore, DueDelivery, Endpoint, EndpointHealth, OrgSlug,
    Page, PageRequest, RecordedRunEvent, RunEvent, RunEventWrite, RunStatus, SourceStore,
    StoreError, StoredSecret,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;
use std::sync::LazyLock;

const ENDPOINT_COLUMNS: &str = "id, org, url, description, event_types, workflow_ids, enabled, \
     disabled_reason, timeout_ms, rate_limit_per_s, retry_schedule, failing_since, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, org, endpoint_id, event_id, event_type, status, attempts, \
     next_attempt_at, last_status, last_error, created_at, updated_at";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn json_list(value: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(value).map_err(corrupt)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

fn optional_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_millis).transpose()
}

fn endpoint_from_row(row: &Row<'_>) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        url: row.get("url")?,
        description: row.get("description")?,
        event_types: json_list(&row.get::<_, String>("event_types")?)?,
        workflow_ids: json_list(&row.get::<_, String>("workflow_ids")?)?,
        enabled: row.get("enabled")?,
        disabled_reason: row.get("disabled_reason")?,
        timeout_ms: row.get("timeout_ms")?,
        rate_limit_per_s: row.get("rate_limit_per_s")?,
        retry_schedule: row.get("retry_schedule")?,
        failing_since: optional_time(row.get("failing_since")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

fn delivery_from_row(row: &Row<'_>) -> Result<Delivery, StoreError> {
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
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

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

fn headers_from_json(value: &str) -> Result<Vec<(String, String)>, StoreError> {
    serde_json::from_str(value).map_err(corrupt)
}

fn find_endpoint(conn: &Connection, id: &str) -> Result<Option<Endpoint>, StoreError> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1 AND deleted_at IS NULL");
    Ok(query_all(conn, &sql, params![id], endpoint_from_row)?.pop())
}

fn find_event(conn: &Connection, org: &str, id: &str) -> Result<Option<RunEvent>, StoreError> {
    Ok(query_all(
        conn,
        "SELECT org, id, type, run_id, workflow_id, occurred_at, data, received_at, traceparent
         FROM run_events WHERE org = ?1 AND id = ?2",
        params![org, id],
        event_from_row,
    )?
    .pop())
}

/// `(sql condition, values)` for a delivery filter, numbered from `?{first}`.
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
                claim_expires_at = NULL, last_status = ?5, last_error = ?6, updated_at = ?7
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
            ],
            |row| row.get(0),
        )?);
    }
    Ok(endpoints)
}

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
    if let Some(event_type) = &filter.event_type {
        add("event_type = ?", Box::new(event_type.clone()));
    }
    if let Some(since) = &filter.since {
        add("created_at >= ?", Box::new(millis(since)));
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
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (endpoint, secret, audit) = (endpoint.clone(), secret.clone(), audit.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO endpoints (id, org, url, description, event_types, workflow_ids, enabled,
                                        timeout_ms, rate_limit_per_s, retry_schedule, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    endpoint.id,
                    endpoint.org.as_str(),
                    endpoint.url,
                    endpoint.description,
                    to_json(&endpoint.event_types)?,
                    to_json(&endpoint.workflow_ids)?,
                    endpoint.enabled,
                    endpoint.timeout_ms,
                    endpoint.rate_limit_per_s,
                    endpoint.retry_schedule,
                    millis(&endpoint.created_at),
                    millis(&endpoint.updated_at),
                ],
            )?;
            insert_secret(&tx, &secret)?;
            insert_audit(&tx, &audit)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| find_endpoint(conn, &id)).await
    }

    async fn list_endpoints(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        let (org, page) = (org.clone(), page.clone());
        self.with_conn(move |conn| {
            let sql = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM endpoints
                 WHERE org = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            );
            let limit = page.limit as i64 + 1;
            let endpoints = query_all(
                conn,
                &sql,
                params![org.as_str(), page.before, limit],
                endpoint_from_row,
            )?;
            Ok(Page::from_overfetch(
                endpoints,
                page.limit,
                |e: &Endpoint| &e.id,
            ))
        })
        .await
    }

    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (endpoint, audit) = (endpoint.clone(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET url = ?2, description = ?3, event_types = ?4, workflow_ids = ?5,
                        enabled = ?6, disabled_reason = ?7, timeout_ms = ?8, rate_limit_per_s = ?9,
                        retry_schedule = ?10, failing_since = ?11, updated_at = ?12
                 WHERE id = ?1 AND deleted_at IS NULL",
                params![
                    endpoint.id,
                    endpoint.url,
                    endpoint.description,
                    to_json(&endpoint.event_types)?,
                    to_json(&endpoint.workflow_ids)?,
                    endpoint.enabled,
                    endpoint.disabled_reason,
                    endpoint.timeout_ms,
                    endpoint.rate_limit_per_s,
                    endpoint.retry_schedule,
                    endpoint.failing_since.as_ref().map(millis),
                    millis(&endpoint.updated_at),
                ],
                &audit,
            )
        })
        .await
    }

    async fn delete_endpoint(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, audit) = (id.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET deleted_at = ?2, enabled = 0 WHERE id = ?1 AND deleted_at IS NULL",
                params![id, millis(&at)],
                &audit,
            )
        })
        .await
    }

    async fn disable_endpoint(
        &self,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, reason, audit) = (id.to_owned(), reason.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
                 WHERE id = ?1 AND enabled = 1 AND deleted_at IS NULL",
                params![id, reason, millis(&at)],
                &audit,
            )
        })
        .await
    }

    async fn record_run_events(
        &self,
        batch: &[RunEventWrite],
    ) -> Result<Vec<RecordedRunEvent>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let batch = batch.to_vec();
        self.with_conn(move |conn| {
            // One transaction (one fsync) for the batch; in-process statements cost no
            // round trips, so each event is applied in order, which gives exactly the
            // answers of one call per event.
            let tx = conn.transaction()?;
            let mut endpoints_of: HashMap<String, Vec<Endpoint>> = HashMap::new();
            let recorded = batch
                .iter()
                .map(|write| record_run_event(&tx, write, &mut endpoints_of))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(recorded)
        })
        .await
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

    async fn endpoint_secrets(
        &self,
        endpoint_ids: &[String],
    ) -> Result<Vec<StoredSecret>, StoreError> {
        let mut secrets = Vec::new();
        for id in endpoint_ids {
            secrets.extend(self.list_secrets(id).await?);
        }
        Ok(secrets)
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
            let (condition, values) = filter_clause(&filter, 4);
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries
                 WHERE org = ?1 AND (?2 IS NULL OR id < ?2) AND {condition}
                 ORDER BY id DESC LIMIT ?3"
            );
            let limit = page.limit as i64 + 1;
            let org = org.as_str().to_owned();
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org, &page.before, &limit];
            all.extend(values.iter().map(|v| v.as_ref()));
            let deliveries = query_all(conn, &sql, all.as_slice(), delivery_from_row)?;
            Ok(Page::from_overfetch(
                deliveries,
                page.limit,
                |d: &Delivery| &d.id,
            ))
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

/// Records one run event of a batch and fans it out. `endpoints_of` caches each org's
/// enabled endpoints for the batch (the transaction sees no other writer).
fn record_run_event(
    tx: &rusqlite::Transaction<'_>,
    write: &RunEventWrite,
    endpoints_of: &mut HashMap<String, Vec<Endpoint>>,
) -> Result<RecordedRunEvent, StoreError> {
    let event = &write.event;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO run_events (org, id, type, run_id, workflow_id, occurred_at, data,
                                     received_at, traceparent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (org, id) DO NOTHING",
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
        insert.execute(params![
            new_id("dlv"),
            event.org.as_str(),
            endpoint.id,
            event.id,
            event.event_type,
            millis(&event.received_at)
        ])?;
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
