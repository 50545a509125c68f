//! Runs, the outbox and trigger idempotency in PostgreSQL.

use super::PostgresStore;
use crate::store::{
    parse_slug, Idempotency, NewRun, OrgSlug, OutboxItem, OutboxStats, Page, PageRequest, Run,
    RunFilter, RunStatus, RunStore, StoreError, TriggerOutcome,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

/// A run's status as the API sees it. The stored status stays `queued` when the run
/// is published (so marking it changes no indexed column); `published_at` says it is.
macro_rules! run_status {
    () => {
        "CASE WHEN status = 'queued' AND published_at IS NOT NULL THEN 'published' ELSE status END"
    };
}
pub(super) use run_status;

const RUN_COLUMNS: &str = concat!(
    "id, org, workflow_id, trigger_type, source_id, event_id, ",
    run_status!(),
    " AS status, created_at, updated_at, published_at, cancel_requested_at, retry_of"
);

/// The stored status and publication a status filter means (see [`run_status!`]).
fn stored_status(status: RunStatus) -> (&'static str, Option<bool>) {
    match status {
        RunStatus::Queued => ("queued", Some(false)),
        RunStatus::Published => ("queued", Some(true)),
        other => (other.as_str(), None),
    }
}

fn run_from_row(row: &Row) -> Result<Run, StoreError> {
    let status: String = row.get("status");
    Ok(Run {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        workflow_id: row.get("workflow_id"),
        trigger_type: row.get("trigger_type"),
        source_id: row.get("source_id"),
        event_id: row.get("event_id"),
        status: RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        published_at: row.get("published_at"),
        cancel_requested_at: row.get("cancel_requested_at"),
        retry_of: row.get("retry_of"),
    })
}

/// A claimed outbox row whose message is whole again (see migration 0007).
fn outbox_item_from_row(row: &Row) -> Result<OutboxItem, StoreError> {
    let run_id: String = row.get(0);
    // NULL only if the event holding the body is gone, which nothing does: events are
    // never deleted while their run waits in the outbox.
    let message: Option<Vec<u8>> = row.get(2);
    let message = message
        .ok_or_else(|| StoreError::Corrupt(format!("run {run_id}: message body missing")))?;
    Ok(OutboxItem {
        run_id,
        workflow_id: row.get(1),
        message: Bytes::from(message),
        message_headers: headers_from_json(row.get(3)),
        enqueued_at: row.get(4),
    })
}

pub(super) fn headers_json(headers: &[(String, String)]) -> serde_json::Value {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn headers_from_json(value: serde_json::Value) -> Vec<(String, String)> {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

/// Inserts a queued run and its outbox row (which carries the message to publish).
pub(super) async fn insert_run(
    tx: &deadpool_postgres::Transaction<'_>,
    run: &NewRun,
) -> Result<(), StoreError> {
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO runs (id, org, workflow_id, trigger_type, source_id, event_id, status,
                               created_at, updated_at, input, retry_of)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $8, $9)",
        )
        .await?,
        &[
            &run.id,
            &run.org.as_str(),
            &run.workflow_id,
            &run.trigger_type,
            &run.source_id,
            &run.event_id,
            &run.created_at,
            &run.input.as_deref(),
            &run.retry_of,
        ],
    )
    .await?;
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO outbox (run_id, enqueued_at, workflow_id, message, message_headers)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?,
        &[
            &run.id,
            &run.created_at,
            &run.workflow_id,
            &run.message.as_ref(),
            &headers_json(&run.message_headers),
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl RunStore for PostgresStore {
    async fn create_run_audited(
        &self,
        run: &NewRun,
        audit: &crate::store::AuditEntry,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        insert_run(&tx, run).await?;
        super::insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn run_input(&self, id: &str) -> Result<Option<Bytes>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT input FROM runs WHERE id = $1", &[&id])
            .await?;
        Ok(row
            .and_then(|row| row.get::<_, Option<Vec<u8>>>(0))
            .map(Bytes::from))
    }

    async fn request_cancel(
        &self,
        request: &crate::store::CancelRequest,
    ) -> Result<crate::store::CancelOutcome, StoreError> {
        use crate::store::CancelOutcome;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row lock makes a second request wait for the first, then see it.
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE");
        let Some(row) = tx.query_opt(&sql, &[&request.run_id]).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        let run = run_from_row(&row)?;
        if run.status.is_terminal() {
            return Ok(CancelOutcome::Ended(run));
        }
        if run.cancel_requested_at.is_some() {
            return Ok(CancelOutcome::AlreadyRequested(run));
        }
        tx.execute(
            "UPDATE runs SET cancel_requested_at = $2 WHERE id = $1",
            &[&request.run_id, &request.requested_at],
        )
        .await?;
        tx.execute(
            "INSERT INTO outbox (run_id, enqueued_at, workflow_id, message, message_headers)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &request.message_id,
                &request.requested_at,
                &request.workflow_id,
                &request.message.as_ref(),
                &headers_json(&request.message_headers),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(CancelOutcome::Requested(Run {
            cancel_requested_at: Some(request.requested_at),
            ..run
        }))
    }

    async fn trigger_run(
        &self,
        run: &NewRun,
        idempotency: Option<&Idempotency>,
    ) -> Result<TriggerOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        insert_run(&tx, run).await?;
        if let Some(idem) = idempotency {
            // The run row exists before the key refers to it; a lost race rolls both back.
            let claimed = tx
                .execute(
                    &tx.prepare_cached(
                        "INSERT INTO run_idempotency (org, key, body_hash, run_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org, key) DO NOTHING",
                    )
                    .await?,
                    &[
                        &run.org.as_str(),
                        &idem.key,
                        &idem.body_hash,
                        &run.id,
                        &run.created_at,
                    ],
                )
                .await?;
            if claimed == 0 {
                tx.rollback().await?;
                let row = client
                    .query_one(
                        &client.prepare_cached("SELECT body_hash, run_id FROM run_idempotency WHERE org = $1 AND key = $2").await?,
                        &[&run.org.as_str(), &idem.key],
                    )
                    .await?;
                let (hash, run_id): (String, String) = (row.get(0), row.get(1));
                if hash != idem.body_hash {
                    return Ok(TriggerOutcome::KeyReused);
                }
                let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
                let original = client.query_one(&sql, &[&run_id]).await?;
                return Ok(TriggerOutcome::Replayed(Box::new(run_from_row(&original)?)));
            }
        }
        tx.commit().await?;
        Ok(TriggerOutcome::Created)
    }

    async fn find_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn list_runs(
        &self,
        org: &OrgSlug,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<Page<Run>, StoreError> {
        let (status, published) = match filter.status.map(stored_status) {
            Some((status, published)) => (Some(status), published),
            None => (None, None),
        };
        // A queued run is one whose message still waits in the outbox (its row is
        // written with the run and deleted as the run is marked published): the small
        // outbox finds them, where walking the org's runs for the few unpublished ones
        // read every run when none was queued (196 ms at 1 M runs).
        let waiting = if published == Some(false) {
            " AND id IN (SELECT run_id FROM outbox)"
        } else {
            ""
        };
        let select = format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE org = $1 AND ($2::text IS NULL OR status = $2)
               AND ($4::boolean IS NULL OR (published_at IS NOT NULL) = $4)
               AND ($3::text IS NULL OR workflow_id = $3){waiting}"
        );
        self.keyset_page(
            &select,
            "id",
            &[&org.as_str(), &status, &filter.workflow_id, &published],
            page,
            run_from_row,
            |r: &Run| &r.id,
        )
        .await
    }

    async fn claim_outbox(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let client = self.client().await?;
        // SKIP LOCKED: concurrent relays (any instance) take disjoint rows; the lease
        // lets another relay take over the rows of one that died. The claimed ids are
        // looked up by key (`= ANY(ARRAY(…))`): as a join, a large outbox got planned
        // as a scan of the whole table for every claim.
        let rows = client
            .query(
                &client
                    .prepare_cached(
                        "WITH claimed AS (
                     SELECT run_id FROM outbox
                     WHERE claim_expires_at IS NULL OR claim_expires_at < $1
                     ORDER BY run_id LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 ), leased AS (
                     UPDATE outbox o SET claim_expires_at = $3
                     WHERE o.run_id = ANY(ARRAY(SELECT run_id FROM claimed))
                     RETURNING o.run_id, o.workflow_id, o.message, o.message_tail,
                               o.body_event_id, o.message_headers, o.enqueued_at
                 )
                 SELECT l.run_id, l.workflow_id,
                        CASE WHEN l.message_tail IS NULL THEN l.message
                             ELSE l.message || e.body || l.message_tail END,
                        l.message_headers, l.enqueued_at
                 FROM leased l LEFT JOIN events e ON e.id = l.body_event_id
                 ORDER BY l.run_id",
                    )
                    .await?,
                &[&now, &(limit as i64), &lease_until],
            )
            .await?;
        rows.iter().map(outbox_item_from_row).collect()
    }

    async fn mark_published(
        &self,
        run_ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        // One statement (its own transaction): the outbox rows go and the runs are
        // marked together, in one round trip.
        client
            .execute(
                &client
                    .prepare_cached(
                        // Both by primary key lookups of the ids: a join with the
                        // CTE's rows got planned as a scan of all runs once the
                        // table was large.
                        "WITH done AS (DELETE FROM outbox WHERE run_id = ANY($1))
                         UPDATE runs SET published_at = $2, updated_at = $2
                         WHERE id = ANY($1) AND published_at IS NULL",
                    )
                    .await?,
                &[&run_ids, &at],
            )
            .await?;
        Ok(())
    }

    async fn release_claims(&self, run_ids: &[String]) -> Result<(), StoreError> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        client
            .execute(
                &client
                    .prepare_cached(
                        "UPDATE outbox SET claim_expires_at = NULL WHERE run_id = ANY($1)",
                    )
                    .await?,
                &[&run_ids],
            )
            .await?;
        Ok(())
    }

    async fn maintain_outbox(&self, refresh_statistics: bool) -> Result<(), StoreError> {
        // Not left to autovacuum: its 1 min naptime is minutes of dead rows for a table
        // that turns over thousands of rows a second (claims walk them), and it may be
        // off altogether (it is on the dev machine). Without statistics, the planner
        // priced `id = ANY($1)` on runs as a scan of the whole table.
        let client = self.client().await?;
        client.batch_execute("VACUUM outbox").await?;
        if refresh_statistics {
            client
                .batch_execute("ANALYZE outbox, runs, events, ingress_dedup")
                .await?;
        }
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &client
                    .prepare_cached("SELECT count(*), min(enqueued_at) FROM outbox")
                    .await?,
                &[],
            )
            .await?;
        let backlog: i64 = row.get(0);
        Ok(OutboxStats {
            backlog: u64::try_from(backlog).unwrap_or(0),
            oldest_enqueued_at: row.get(1),
        })
    }
}
