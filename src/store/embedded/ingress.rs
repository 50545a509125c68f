//! Inbound events, runs, the outbox and rejections in SQLite.

use super::{from_millis, millis, query_all, EmbeddedStore};
use crate::store::{
    parse_slug, AcceptOutcome, IngressStore, NewEvent, NewRun, Rejected, Run, RunStatus,
    StoreError, LAST_USED_GRANULARITY,
};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row, Transaction};

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn status(value: &str) -> Result<RunStatus, StoreError> {
    RunStatus::parse(value).ok_or_else(|| corrupt(format!("run status {value:?}")))
}

fn run_from_row(row: &Row<'_>) -> Result<Run, StoreError> {
    let published_at: Option<i64> = row.get("published_at")?;
    Ok(Run {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        workflow_id: row.get("workflow_id")?,
        trigger_type: row.get("trigger_type")?,
        source_id: row.get("source_id")?,
        event_id: row.get("event_id")?,
        status: status(&row.get::<_, String>("status")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
        published_at: published_at.map(from_millis).transpose()?,
    })
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
    Ok(Some(AcceptOutcome::Duplicate {
        event_id,
        run_id,
        run_status: status(&run_status)?,
    }))
}

fn insert_event(tx: &Transaction<'_>, event: &NewEvent) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id, disposition,
                             traceparent, headers, body, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
        ],
    )?;
    Ok(())
}

fn insert_run(tx: &Transaction<'_>, run: &NewRun) -> Result<(), StoreError> {
    let headers: serde_json::Map<String, serde_json::Value> = run
        .message_headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    tx.execute(
        "INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                           message, message_headers, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?9)",
        params![
            run.id,
            run.org.as_str(),
            run.workflow_id,
            run.trigger_type,
            run.source_id,
            run.event_id,
            run.message.as_ref(),
            serde_json::Value::Object(headers).to_string(),
            millis(&run.created_at),
        ],
    )?;
    tx.execute(
        "INSERT INTO outbox (run_id, enqueued_at) VALUES (?1, ?2)",
        params![run.id, millis(&run.created_at)],
    )?;
    Ok(())
}

#[async_trait]
impl IngressStore for EmbeddedStore {
    async fn record_event(
        &self,
        event: &NewEvent,
        run: Option<&NewRun>,
    ) -> Result<AcceptOutcome, StoreError> {
        let (event, run) = (event.clone(), run.cloned());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            if let (Some(key), Some(run)) = (&event.dedup_key, &run) {
                if let Some(duplicate) = claim_dedup(&tx, &event, key, run)? {
                    return Ok(duplicate);
                }
            }
            insert_event(&tx, &event)?;
            if let Some(run) = &run {
                insert_run(&tx, run)?;
            }
            tx.execute(
                "UPDATE secrets SET last_used_at = ?2
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
                params![
                    event.secret_id,
                    millis(&event.received_at),
                    millis(&(event.received_at - LAST_USED_GRANULARITY)),
                ],
            )?;
            tx.commit()?;
            Ok(AcceptOutcome::Recorded)
        })
        .await
    }

    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError> {
        let rejected = rejected.clone();
        self.with_conn(move |conn| {
            let headers = serde_json::to_string(&rejected.headers_present).map_err(corrupt)?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO ingress_rejections (id, source_id, at, reason, headers_present)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    rejected.id,
                    rejected.source_id,
                    millis(&rejected.at),
                    rejected.reason,
                    headers
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
                "SELECT id, source_id, at, reason, headers_present FROM ingress_rejections
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
                    })
                },
            )
        })
        .await
    }

    async fn find_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            Ok(query_all(
                conn,
                "SELECT id, org, workflow_id, trigger_type, source_id, event_id, status,
                        created_at, updated_at, published_at
                 FROM runs WHERE id = ?1",
                params![id],
                run_from_row,
            )?
            .pop())
        })
        .await
    }
}
