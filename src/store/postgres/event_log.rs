//! The ingress event log read back in PostgreSQL (SPEC §11).
//!
//! An org's events are read as a merge of its sources' newest events (one backward
//! scan per source, `LATERAL`), which stays a few index pages per source at any table
//! size: `events_by_source` for every event, `events_by_dedup_key` for a sender's
//! delivery id, `events_by_source_unaccepted` (migration 0012) for ignored and
//! handshake events, which are few. The ingress hot path's accepted events skip that
//! last index.

use super::deliveries::{delivery_from_row, DELIVERY_COLUMNS};
use super::{corrupt, PostgresStore};
use crate::id::id_floor;
use crate::store::{
    parse_slug, Delivery, EventDisposition, EventLogStore, IngressEvent, IngressEventFilter,
    IngressEventRecord, OrgSlug, Page, PageRequest, RunEventSummary, StoreError, TimelineEvent,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const EVENT_COLUMNS: &str = "e.id, e.org, e.source_id, e.received_at, e.disposition, \
     e.event_name, e.dedup_key, e.secret_id, e.run_id, e.duplicates, e.last_duplicate_at, \
     e.body_bytes, e.body_expired";

fn event_from_row(row: &Row) -> Result<IngressEvent, StoreError> {
    let status: String = row.get("disposition");
    let duplicates: i32 = row.get("duplicates");
    let body_bytes: i32 = row.get("body_bytes");
    Ok(IngressEvent {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        source_id: row.get("source_id"),
        received_at: row.get("received_at"),
        status: EventDisposition::parse(&status)
            .ok_or_else(|| corrupt(format!("event status {status:?}")))?,
        event_name: row.get("event_name"),
        dedup_key: row.get("dedup_key"),
        secret_id: row.get("secret_id"),
        run_id: row.get("run_id"),
        duplicates: u32::try_from(duplicates).map_err(corrupt)?,
        last_duplicate_at: row.get("last_duplicate_at"),
        body_bytes: u64::try_from(body_bytes).map_err(corrupt)?,
        body_expired: row.get("body_expired"),
    })
}

#[async_trait]
impl EventLogStore for PostgresStore {
    async fn list_ingress_events(
        &self,
        org: &OrgSlug,
        filter: &IngressEventFilter,
        page: &PageRequest,
    ) -> Result<Page<IngressEvent>, StoreError> {
        // Sources of the org (deleted ones too: their events stay listed), each read
        // newest first up to the page size; the merge keeps the newest of them all.
        // Only the filters given appear in the statement, so each combination is a
        // statement of its own: the store prepares it once per connection, and the
        // generic plan PostgreSQL settles on after five executions then serves that
        // combination alone (one statement with `$n IS NULL OR …` for every filter got
        // one plan for all of them, e.g. a walk of every event of a source to find one
        // de-dup key).
        let status = filter.status.map(EventDisposition::as_str);
        let floor = filter
            .since
            .map(|since| id_floor("evt", since.timestamp_millis()));
        let probe = page.limit as i64 + 1;
        let org_slug = org.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&org_slug, &probe];
        let mut sources = String::from("s.org = $1");
        let mut events = String::from("e.source_id = s.id");
        if let Some(source_id) = &filter.source_id {
            params.push(source_id);
            let _ = write!(sources, " AND s.id = ${}", params.len());
        }
        if let Some(status) = &status {
            params.push(status);
            let _ = write!(events, " AND e.disposition = ${}", params.len());
            if *status != EventDisposition::Accepted.as_str() {
                // Literal, so that every plan of the statement can prove it reads
                // only what `events_by_source_unaccepted` holds (migration 0012).
                events.push_str(" AND e.disposition <> 'accepted'");
            }
        }
        if let Some(dedup_key) = &filter.dedup_key {
            params.push(dedup_key);
            let _ = write!(events, " AND e.dedup_key = ${}", params.len());
        }
        if let (Some(floor), Some(since)) = (&floor, &filter.since) {
            params.push(floor);
            let _ = write!(events, " AND e.id >= ${}", params.len());
            params.push(since);
            let _ = write!(events, " AND e.received_at >= ${}", params.len());
        }
        if let Some(before) = &page.before {
            params.push(before);
            let _ = write!(events, " AND e.id < ${}", params.len());
        }
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM sources s CROSS JOIN LATERAL (
                 SELECT * FROM events e WHERE {events}
                 ORDER BY e.id DESC LIMIT $2) e
             WHERE {sources}
             ORDER BY e.id DESC LIMIT $2"
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &params).await?;
        let items = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(
            items,
            page.limit,
            |e: &IngressEvent| &e.id,
        ))
    }

    async fn find_ingress_event(&self, id: &str) -> Result<Option<IngressEventRecord>, StoreError> {
        let client = self.client().await?;
        let sql =
            format!("SELECT {EVENT_COLUMNS}, e.headers, e.body FROM events e WHERE e.id = $1");
        let Some(row) = client.query_opt(&sql, &[&id]).await? else {
            return Ok(None);
        };
        let event = event_from_row(&row)?;
        let headers: serde_json::Value = row.get("headers");
        let body: Option<Vec<u8>> = row.get("body");
        Ok(Some(IngressEventRecord {
            headers: match headers {
                serde_json::Value::Object(map) => map,
                _ => return Err(corrupt("event headers are not an object")),
            },
            body: body.filter(|_| !event.body_expired).map(Bytes::from),
            event,
        }))
    }

    async fn run_lineage(
        &self,
        org: &OrgSlug,
        run_id: &str,
    ) -> Result<(Vec<RunEventSummary>, Vec<Delivery>), StoreError> {
        let client = self.client().await?;
        let events: Vec<RunEventSummary> = client
            .query(
                "SELECT id, type, occurred_at FROM run_events
                 WHERE org = $1 AND run_id = $2 ORDER BY seq NULLS LAST, occurred_at, id",
                &[&org.as_str(), &run_id],
            )
            .await?
            .iter()
            .map(|row| RunEventSummary {
                id: row.get(0),
                event_type: row.get(1),
                occurred_at: row.get(2),
            })
            .collect();
        if events.is_empty() {
            return Ok((events, Vec::new()));
        }
        let event_ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        // By (endpoint, event): the deliveries' unique key, for each of the org's
        // endpoints (deleted ones too).
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.endpoint_id = ANY(ARRAY(SELECT id FROM endpoints WHERE org = $1))
               AND d.event_id = ANY($2) ORDER BY d.id"
        );
        let deliveries = client
            .query(&sql, &[&org.as_str(), &event_ids])
            .await?
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?;
        Ok((events, deliveries))
    }

    async fn expire_event_bodies(
        &self,
        after: Option<&str>,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let floor = id_floor("evt", before.timestamp_millis());
        // Walks the primary key from `after`, so a batch never re-reads what earlier
        // batches expired.
        let row = client
            .query_one(
                "WITH expired AS (
                     UPDATE events SET body = '', body_expired = true
                     WHERE id IN (
                         SELECT e.id FROM events e
                         WHERE e.id < $1 AND ($2::text IS NULL OR e.id > $2)
                           AND NOT e.body_expired
                           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.body_event_id = e.id)
                         ORDER BY e.id LIMIT $3)
                     RETURNING id)
                 SELECT max(id) FROM expired",
                &[&floor, &after, &(limit as i64)],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn run_timeline(
        &self,
        org: &OrgSlug,
        run_id: &str,
        after_seq: u32,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT seq, id, type, occurred_at, data FROM run_events
                 WHERE org = $1 AND run_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            )
            .await?;
        let after = i32::try_from(after_seq).unwrap_or(i32::MAX);
        let rows = client
            .query(
                &statement,
                &[&org.as_str(), &run_id, &after, &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TimelineEvent {
                    seq: u32::try_from(row.get::<_, i32>(0)).map_err(corrupt)?,
                    event_id: row.get(1),
                    event_type: row.get(2),
                    occurred_at: row.get(3),
                    data: row.get(4),
                })
            })
            .collect()
    }

    async fn count_quiet_sources(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM sources s
                 LEFT JOIN LATERAL (SELECT received_at FROM events e
                                    WHERE e.source_id = s.id ORDER BY e.id DESC LIMIT 1) last ON true
                 WHERE s.quiet_after_s IS NOT NULL AND s.deleted_at IS NULL AND s.enabled
                   AND COALESCE(last.received_at, s.created_at)
                       < $1::timestamptz - make_interval(secs => s.quiet_after_s)",
                &[&now],
            )
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    async fn last_event_at(
        &self,
        source_ids: &[String],
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT s.id, e.received_at FROM unnest($1::text[]) AS s (id)
                 CROSS JOIN LATERAL (SELECT received_at FROM events
                                     WHERE source_id = s.id ORDER BY id DESC LIMIT 1) e",
                &[&source_ids],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}
