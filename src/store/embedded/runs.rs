//! Runs, the outbox and trigger idempotency in SQLite.

use super::keyset::keyset_page;
use super::{from_millis, millis, query_all, EmbeddedStore};
use crate::store::{
    parse_slug, Idempotency, NewRun, OrgSlug, OutboxItem, OutboxStats, Page, PageRequest, Run,
    RunFilter, RunStatus, RunStore, StoreError, TriggerOutcome,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction};

const RUN_COLUMNS: &str = "id, org, workflow_id, trigger_type, source_id, event_id, status, \
                           created_at, updated_at, published_at, cancel_requested_at, retry_of";

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

pub(super) fn status(value: &str) -> Result<RunStatus, StoreError> {
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
        cancel_requested_at: super::optional_time(row.get("cancel_requested_at")?)?,
        retry_of: row.get("retry_of")?,
    })
}

/// Inserts a queued run and its outbox row, claimed until `claim_until` if given.
pub(super) fn insert_run(
    tx: &Transaction<'_>,
    run: &NewRun,
    claim_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let headers: serde_json::Map<String, serde_json::Value> = run
        .message_headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    tx.execute(
        "INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                           message, message_headers, created_at, updated_at, input, retry_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?9, ?10, ?11)",
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
            run.input.as_deref(),
            run.retry_of,
        ],
    )?;
    tx.execute(
        "INSERT INTO outbox (run_id, enqueued_at, claim_expires_at) VALUES (?1, ?2, ?3)",
        params![
            run.id,
            millis(&run.created_at),
            claim_until.as_ref().map(millis)
        ],
    )?;
    Ok(())
}

fn find_run(conn: &rusqlite::Connection, id: &str) -> Result<Option<Run>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
    Ok(query_all(conn, &sql, params![id], run_from_row)?.pop())
}

/// `?` placeholders for an `IN (…)` list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[async_trait]
impl RunStore for EmbeddedStore {
    async fn create_run_audited(
        &self,
        run: &NewRun,
        audit: &crate::store::AuditEntry,
    ) -> Result<(), StoreError> {
        let (run, audit) = (run.clone(), audit.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            insert_run(&tx, &run, None)?;
            super::insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn run_input(&self, id: &str) -> Result<Option<Bytes>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let input: Option<Option<Vec<u8>>> = conn
                .query_row("SELECT input FROM runs WHERE id = ?1", params![id], |row| {
                    row.get(0)
                })
                .optional()?;
            Ok(input.flatten().map(Bytes::from))
        })
        .await
    }

    async fn request_cancel(
        &self,
        request: &crate::store::CancelRequest,
    ) -> Result<crate::store::CancelOutcome, StoreError> {
        use crate::store::CancelOutcome;
        let request = request.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let Some(run) = find_run(&tx, &request.run_id)? else {
                return Ok(CancelOutcome::NotFound);
            };
            if run.status.is_terminal() {
                return Ok(CancelOutcome::Ended(run));
            }
            if run.cancel_requested_at.is_some() {
                return Ok(CancelOutcome::AlreadyRequested(run));
            }
            let at = millis(&request.requested_at);
            tx.execute(
                "UPDATE runs SET cancel_requested_at = ?2 WHERE id = ?1",
                params![request.run_id, at],
            )?;
            let headers: serde_json::Map<String, serde_json::Value> = request
                .message_headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            tx.execute(
                "INSERT INTO outbox (run_id, enqueued_at, workflow_id, message, message_headers)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    request.message_id,
                    at,
                    request.workflow_id,
                    request.message.as_ref(),
                    serde_json::Value::Object(headers).to_string(),
                ],
            )?;
            let run = find_run(&tx, &request.run_id)?
                .ok_or_else(|| corrupt("run vanished during its cancel"))?;
            tx.commit()?;
            Ok(CancelOutcome::Requested(run))
        })
        .await
    }

    async fn trigger_run(
        &self,
        run: &NewRun,
        idempotency: Option<&Idempotency>,
    ) -> Result<TriggerOutcome, StoreError> {
        let (run, idempotency) = (run.clone(), idempotency.cloned());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            if let Some(idem) = &idempotency {
                let existing: Option<(String, String)> = tx
                    .query_row(
                        "SELECT body_hash, run_id FROM run_idempotency WHERE org = ?1 AND key = ?2",
                        params![run.org.as_str(), idem.key],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                if let Some((hash, run_id)) = existing {
                    if hash != idem.body_hash {
                        return Ok(TriggerOutcome::KeyReused);
                    }
                    let original = find_run(&tx, &run_id)?
                        .ok_or_else(|| corrupt("idempotency key points at no run"))?;
                    return Ok(TriggerOutcome::Replayed(Box::new(original)));
                }
            }
            insert_run(&tx, &run, None)?;
            if let Some(idem) = &idempotency {
                tx.execute(
                    "INSERT INTO run_idempotency (org, key, body_hash, run_id, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        run.org.as_str(),
                        idem.key,
                        idem.body_hash,
                        run.id,
                        millis(&run.created_at)
                    ],
                )?;
            }
            tx.commit()?;
            Ok(TriggerOutcome::Created)
        })
        .await
    }

    async fn find_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| find_run(conn, &id)).await
    }

    async fn list_runs(
        &self,
        org: &OrgSlug,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Page<Run>, StoreError> {
        let (org, filter, page) = (org.clone(), filter.clone(), page.clone());
        self.with_conn(move |conn| {
            let select = format!(
                "SELECT {RUN_COLUMNS} FROM runs
                 WHERE org = ?1 AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR workflow_id = ?3)"
            );
            let status = filter.status.map(RunStatus::as_str);
            keyset_page(
                conn,
                &select,
                params![org.as_str(), status, filter.workflow_id],
                &page,
                run_from_row,
                |r: &Run| &r.id,
            )
        })
        .await
    }

    async fn claim_outbox(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.with_conn(move |conn| {
            // One connection behind a mutex: claims cannot race within this process,
            // and embedded mode is single-instance.
            let tx = conn.transaction()?;
            let items = query_all(
                &tx,
                // A run's own message is in its row; a cancel request carries its own.
                "SELECT o.run_id, coalesce(o.workflow_id, r.workflow_id),
                        coalesce(o.message, r.message),
                        coalesce(o.message_headers, r.message_headers), o.enqueued_at
                 FROM outbox o LEFT JOIN runs r ON r.id = o.run_id
                 WHERE o.claim_expires_at IS NULL OR o.claim_expires_at < ?1
                 ORDER BY o.run_id LIMIT ?2",
                params![millis(&now), limit as i64],
                |row| {
                    let headers: String = row.get(3)?;
                    let headers: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&headers).map_err(corrupt)?;
                    Ok(OutboxItem {
                        run_id: row.get(0)?,
                        workflow_id: row.get(1)?,
                        message: Bytes::from(row.get::<_, Vec<u8>>(2)?),
                        message_headers: headers
                            .into_iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                            .collect(),
                        enqueued_at: from_millis(row.get(4)?)?,
                    })
                },
            )?;
            if !items.is_empty() {
                let sql = format!(
                    "UPDATE outbox SET claim_expires_at = ? WHERE run_id IN ({})",
                    placeholders(items.len())
                );
                let lease = millis(&lease_until);
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&lease];
                values.extend(items.iter().map(|i| &i.run_id as &dyn rusqlite::ToSql));
                tx.execute(&sql, values.as_slice())?;
            }
            tx.commit()?;
            Ok(items)
        })
        .await
    }

    async fn mark_published(
        &self,
        run_ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let run_ids = run_ids.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let list = placeholders(run_ids.len());
            let ids = rusqlite::params_from_iter(run_ids.iter());
            tx.execute(&format!("DELETE FROM outbox WHERE run_id IN ({list})"), ids)?;
            let at = millis(&at);
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&at];
            values.extend(run_ids.iter().map(|id| id as &dyn rusqlite::ToSql));
            tx.execute(
                &format!(
                    "UPDATE runs SET status = 'published', published_at = ?1, updated_at = ?1
                     WHERE status = 'queued' AND id IN ({})",
                    (0..run_ids.len())
                        .map(|i| format!("?{}", i + 2))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                values.as_slice(),
            )?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn release_claims(&self, run_ids: &[String]) -> Result<(), StoreError> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let run_ids = run_ids.to_vec();
        self.with_conn(move |conn| {
            let sql = format!(
                "UPDATE outbox SET claim_expires_at = NULL WHERE run_id IN ({})",
                placeholders(run_ids.len())
            );
            conn.execute(&sql, rusqlite::params_from_iter(run_ids.iter()))?;
            Ok(())
        })
        .await
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.with_conn(|conn| {
            let (backlog, oldest): (i64, Option<i64>) =
                conn.query_row("SELECT count(*), min(enqueued_at) FROM outbox", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            Ok(OutboxStats {
                backlog: u64::try_from(backlog).unwrap_or(0),
                oldest_enqueued_at: oldest.map(from_millis).transpose()?,
            })
        })
        .await
    }
}
