//! The ingress event log read back in SQLite (SPEC §11).

use super::deliveries::{delivery_from_row, DELIVERY_COLUMNS};
use super::keyset::keyset_page;
use super::{corrupt, from_millis, millis, optional_time, query_all, EmbeddedStore};
use crate::id::id_floor;
use crate::store::{
    parse_slug, Delivery, EventDisposition, EventLogStore, IngressEvent, IngressEventFilter,
    IngressEventRecord, OrgSlug, Page, PageRequest, RunEventSummary, StoreError, TimelineEvent,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::types::ToSql;
use rusqlite::{params, OptionalExtension, Row};

const EVENT_COLUMNS: &str = "id, org, source_id, received_at, disposition, event_name, \
     dedup_key, secret_id, run_id, duplicates, last_duplicate_at, body_bytes, body_expired";

fn event_from_row(row: &Row<'_>) -> Result<IngressEvent, StoreError> {
    let status: String = row.get("disposition")?;
    Ok(IngressEvent {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        source_id: row.get("source_id")?,
        received_at: from_millis(row.get("received_at")?)?,
        status: EventDisposition::parse(&status)
            .ok_or_else(|| corrupt(format!("event status {status:?}")))?,
        event_name: row.get("event_name")?,
        dedup_key: row.get("dedup_key")?,
        secret_id: row.get("secret_id")?,
        run_id: row.get("run_id")?,
        duplicates: row.get("duplicates")?,
        last_duplicate_at: optional_time(row.get("last_duplicate_at")?)?,
        body_bytes: row.get("body_bytes")?,
        body_expired: row.get("body_expired")?,
    })
}

#[async_trait]
impl EventLogStore for EmbeddedStore {
    async fn list_ingress_events(
        &self,
        org: &OrgSlug,
        filter: &IngressEventFilter,
        page: &PageRequest,
    ) -> Result<Page<IngressEvent>, StoreError> {
        let (org, filter, page) = (org.as_str().to_owned(), filter.clone(), page.clone());
        self.with_conn(move |conn| {
            let select = format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE org = ?1 AND (?2 IS NULL OR source_id = ?2)
                   AND (?3 IS NULL OR disposition = ?3) AND (?4 IS NULL OR dedup_key = ?4)
                   AND (?5 IS NULL OR id >= ?5)"
            );
            let status = filter.status.map(EventDisposition::as_str);
            let floor = filter
                .since
                .map(|since| id_floor("evt", since.timestamp_millis()));
            let params: [&dyn ToSql; 5] =
                [&org, &filter.source_id, &status, &filter.dedup_key, &floor];
            keyset_page(conn, &select, &params, &page, event_from_row, |e| &e.id)
        })
        .await
    }

    async fn find_ingress_event(&self, id: &str) -> Result<Option<IngressEventRecord>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let sql = format!("SELECT {EVENT_COLUMNS}, headers, body FROM events WHERE id = ?1");
            let found = conn
                .query_row(&sql, params![id], |row| {
                    Ok((
                        event_from_row(row),
                        row.get::<_, String>("headers")?,
                        row.get::<_, Vec<u8>>("body")?,
                    ))
                })
                .optional()?;
            let Some((event, headers, body)) = found else {
                return Ok(None);
            };
            let event = event?;
            let headers = match serde_json::from_str(&headers).map_err(corrupt)? {
                serde_json::Value::Object(map) => map,
                _ => return Err(corrupt("event headers are not an object")),
            };
            Ok(Some(IngressEventRecord {
                headers,
                body: (!event.body_expired).then(|| Bytes::from(body)),
                event,
            }))
        })
        .await
    }

    async fn run_lineage(
        &self,
        org: &OrgSlug,
        run_id: &str,
    ) -> Result<(Vec<RunEventSummary>, Vec<Delivery>), StoreError> {
        let (org, run_id) = (org.as_str().to_owned(), run_id.to_owned());
        self.with_conn(move |conn| {
            let events = query_all(
                conn,
                "SELECT id, type, occurred_at FROM run_events
                 WHERE org = ?1 AND run_id = ?2
                 ORDER BY seq IS NULL, seq, occurred_at, id",
                params![org, run_id],
                |row| {
                    Ok(RunEventSummary {
                        id: row.get(0)?,
                        event_type: row.get(1)?,
                        occurred_at: from_millis(row.get(2)?)?,
                    })
                },
            )?;
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries
                 WHERE org = ?1 AND event_id IN (
                     SELECT id FROM run_events WHERE org = ?1 AND run_id = ?2)
                 ORDER BY id"
            );
            let deliveries = query_all(conn, &sql, params![org, run_id], delivery_from_row)?;
            Ok((events, deliveries))
        })
        .await
    }

    /// The run message keeps its own copy of the body here, so no outbox row needs
    /// the event's.
    async fn expire_event_bodies(
        &self,
        after: Option<&str>,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<String>, StoreError> {
        let after = after.map(str::to_owned);
        let floor = id_floor("evt", millis(&before));
        self.with_conn(move |conn| {
            let last: Option<String> = conn.query_row(
                "WITH due AS (
                     SELECT e.id FROM events e
                     WHERE e.id < ?1 AND (?2 IS NULL OR e.id > ?2) AND e.body_expired = 0
                     ORDER BY e.id LIMIT ?3)
                 SELECT max(id) FROM due",
                params![floor, after, limit as i64],
                |row| row.get(0),
            )?;
            if let Some(last) = &last {
                conn.execute(
                    "UPDATE events SET body = X'', body_expired = 1
                     WHERE id <= ?1 AND (?2 IS NULL OR id > ?2) AND body_expired = 0",
                    params![last, after],
                )?;
            }
            Ok(last)
        })
        .await
    }

    async fn run_timeline(
        &self,
        org: &OrgSlug,
        run_id: &str,
        after_seq: u32,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        let (org, run_id) = (org.as_str().to_owned(), run_id.to_owned());
        self.with_conn(move |conn| {
            query_all(
                conn,
                "SELECT seq, id, type, occurred_at, data FROM run_events
                 WHERE org = ?1 AND run_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                params![org, run_id, after_seq, limit as i64],
                |row| {
                    let data: String = row.get(4)?;
                    Ok(TimelineEvent {
                        seq: row.get(0)?,
                        event_id: row.get(1)?,
                        event_type: row.get(2)?,
                        occurred_at: from_millis(row.get(3)?)?,
                        data: serde_json::from_str(&data).map_err(corrupt)?,
                    })
                },
            )
        })
        .await
    }

    async fn count_quiet_sources(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = millis(&now);
        self.with_conn(move |conn| {
            let count: i64 = conn.query_row(
                "SELECT count(*) FROM sources s
                 WHERE s.quiet_after_s IS NOT NULL AND s.deleted_at IS NULL AND s.enabled = 1
                   AND coalesce((SELECT received_at FROM events e WHERE e.source_id = s.id
                                 ORDER BY e.id DESC LIMIT 1), s.created_at)
                       < ?1 - s.quiet_after_s * 1000",
                params![now],
                |row| row.get(0),
            )?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    async fn last_event_at(
        &self,
        source_ids: &[String],
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let source_ids = source_ids.to_vec();
        self.with_conn(move |conn| {
            let mut found = Vec::new();
            let mut statement = conn.prepare_cached(
                "SELECT received_at FROM events WHERE source_id = ?1 ORDER BY id DESC LIMIT 1",
            )?;
            for id in source_ids {
                let at: Option<i64> = statement
                    .query_row(params![id], |row| row.get(0))
                    .optional()?;
                if let Some(at) = at {
                    found.push((id, from_millis(at)?));
                }
            }
            Ok(found)
        })
        .await
    }
}
