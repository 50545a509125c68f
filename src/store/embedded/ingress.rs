//! Inbound events, runs, the outbox and rejections in SQLite.

use super::runs::{insert_run, status};
use super::{from_millis, millis, query_all, EmbeddedStore};
use crate::store::{
    last_uses, AcceptOutcome, EventWrite, IngressStore, NewEvent, NewRun, Rejected, StoreError,
    LAST_USED_GRANULARITY,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// Claims the de-dup key, or returns the duplicate it already belongs to.
fn claim_dedup(
    tx: &Transaction<'_>,
    event: &NewEvent,
    key: &str,
    run: &NewRun,
) -> Result<Option<AcceptOutcome>, StoreError> {
    let window = chrono::Duration::from_std(event.dedup_window).map_err(corrupt)?;
    let claimed: Option<String> = tx
        .query_row(
            "INSERT INTO ingress_dedup (source_id, dedup_key, event_id, run_id, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source_id, dedup_key) DO UPDATE
                SET event_id = excluded.event_id, run_id = excluded.run_id,
                    expires_at = excluded.expires_at
                WHERE ingress_dedup.expires_at <= ?6
             RETURNING event_id",
            params![
                event.source_id,
                key,
                event.id,
                run.id,
                millis(&(event.received_at + window)),
                millis(&event.received_at),
            ],
            |row| row.get(0),
        )
        .optional()?;
    if claimed.is_some() {
        return Ok(None);
    }
    let (event_id, run_id, run_status): (String, String, String) = tx.query_row(
        "SELECT d.event_id, d.run_id, r.status FROM ingress_dedup d
         JOIN runs r ON r.id = d.run_id
         WHERE d.source_id = ?1 AND d.dedup_key = ?2",
        params![event.source_id, key],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    tx.execute(
        "UPDATE events SET duplicates = duplicates + 1,
                last_duplicate_at = max(coalesce(last_duplicate_at, 0), ?2)
         WHERE id = ?1",
        params![event_id, millis(&event.received_at)],
    )?;
    Ok(Some(AcceptOutcome::Duplicate {
        event_id,
        run_id,
        run_status: status(&run_status)?,
    }))
}

fn insert_event(
    tx: &Transaction<'_>,
    event: &NewEvent,
    run_id: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id, disposition,
                             traceparent, headers, body, received_at, run_id, body_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            event.id,
            event.org.as_str(),
            event.source_id,
            event.dedup_key,
            event.event_name,
            event.secret_id,
            event.disposition.as_str(),
            event.traceparent,
            event.headers.to_string(),
            event.body.as_ref(),
            millis(&event.received_at),
            run_id,
            event.body.len(),
        ],
    )?;
    Ok(())
}

#[async_trait]
impl IngressStore for EmbeddedStore {
    async fn record_events(
        &self,
        batch: &[EventWrite],
        claim_until: Option<DateTime<Utc>>,
    ) -> Result<Vec<AcceptOutcome>, StoreError> {
        let batch = batch.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for write in &batch {
                let (event, run) = (&write.event, &write.run);
                if let (Some(key), Some(run)) = (&event.dedup_key, run) {
                    if let Some(duplicate) = claim_dedup(&tx, event, key, run)? {
                        outcomes.push(duplicate);
                        continue;
                    }
                }
                insert_event(&tx, event, run.as_ref().map(|r| r.id.as_str()))?;
                if let Some(run) = run {
                    insert_run(&tx, run, claim_until)?;
                }
                outcomes.push(AcceptOutcome::Recorded);
            }
            for (secret_id, used_at) in last_uses(&batch, &outcomes) {
                tx.execute(
                    "UPDATE secrets SET last_used_at = ?2
                     WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
                    params![
                        secret_id,
                        millis(&used_at),
                        millis(&(used_at - LAST_USED_GRANULARITY))
                    ],
                )?;
            }
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError> {
        let rejected = rejected.clone();
        self.with_conn(move |conn| {
            let headers = serde_json::to_string(&rejected.headers_present).map_err(corrupt)?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO ingress_rejections (id, source_id, at, reason, headers_present, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    rejected.id,
                    rejected.source_id,
                    millis(&rejected.at),
                    rejected.reason,
                    headers,
                    rejected.detail,
                ],
            )?;
            tx.execute(
                "DELETE FROM ingress_rejections WHERE source_id = ?1 AND id NOT IN (
                     SELECT id FROM ingress_rejections WHERE source_id = ?1
                     ORDER BY id DESC LIMIT ?2)",
                params![rejected.source_id, keep as i64],
            )?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn list_rejections(
        &self,
        source_id: &str,
        limit: usize,
    ) -> Result<Vec<Rejected>, StoreError> {
        let source_id = source_id.to_owned();
        self.with_conn(move |conn| {
            query_all(
                conn,
                "SELECT id, source_id, at, reason, headers_present, detail FROM ingress_rejections
                 WHERE source_id = ?1 ORDER BY id DESC LIMIT ?2",
                params![source_id, limit as i64],
                |row| {
                    let headers: String = row.get("headers_present")?;
                    Ok(Rejected {
                        id: row.get("id")?,
                        source_id: row.get("source_id")?,
                        at: from_millis(row.get("at")?)?,
                        reason: row.get("reason")?,
                        headers_present: serde_json::from_str(&headers).map_err(corrupt)?,
                        detail: row.get::<_, Option<String>>("detail")?.unwrap_or_default(),
                    })
                },
            )
        })
        .await
    }
}
