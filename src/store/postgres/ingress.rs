//! Inbound events, runs, the outbox and rejections in PostgreSQL.

use super::runs::insert_run;
use super::PostgresStore;
use crate::store::{
    last_uses, AcceptOutcome, EventWrite, IngressStore, NewEvent, NewRun, Rejected, RunStatus,
    StoreError, LAST_USED_GRANULARITY,
};
use async_trait::async_trait;

/// One event (and its run) inside the batch transaction: claims the de-dup key (or
/// reports the duplicate), then writes the event, the run and its outbox row.
async fn record_one(
    tx: &deadpool_postgres::Transaction<'_>,
    event: &NewEvent,
    run: Option<&NewRun>,
) -> Result<AcceptOutcome, StoreError> {
    if let (Some(key), Some(run)) = (&event.dedup_key, run) {
        let window = chrono::Duration::from_std(event.dedup_window)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Claims the key unless an unexpired claim exists; a concurrent claim of
        // the same key waits for ours and then sees it (no second run).
        let claimed = tx
            .query_opt(
                &tx.prepare_cached(
                    "INSERT INTO ingress_dedup (source_id, dedup_key, event_id, run_id, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (source_id, dedup_key) DO UPDATE
                    SET event_id = EXCLUDED.event_id, run_id = EXCLUDED.run_id,
                        expires_at = EXCLUDED.expires_at
                    WHERE ingress_dedup.expires_at <= $6
                 RETURNING event_id",
                )
                .await?,
                &[
                    &event.source_id,
                    key,
                    &event.id,
                    &run.id,
                    &(event.received_at + window),
                    &event.received_at,
                ],
            )
            .await?;
        if claimed.is_none() {
            let row = tx
                .query_one(
                    &tx.prepare_cached(
                        "SELECT d.event_id, d.run_id, r.status FROM ingress_dedup d
                     JOIN runs r ON r.id = d.run_id
                     WHERE d.source_id = $1 AND d.dedup_key = $2",
                    )
                    .await?,
                    &[&event.source_id, key],
                )
                .await?;
            let status: String = row.get(2);
            return Ok(AcceptOutcome::Duplicate {
                event_id: row.get(0),
                run_id: row.get(1),
                run_status: RunStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?,
            });
        }
    }
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO events (id, org, source_id, dedup_key, event_name, secret_id, disposition,
                             traceparent, headers, body, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .await?,
        &[
            &event.id,
            &event.org.as_str(),
            &event.source_id,
            &event.dedup_key,
            &event.event_name,
            &event.secret_id,
            &event.disposition.as_str(),
            &event.traceparent,
            &event.headers,
            &event.body.as_ref(),
            &event.received_at,
        ],
    )
    .await?;
    if let Some(run) = run {
        insert_run(tx, run).await?;
    }
    Ok(AcceptOutcome::Recorded)
}

#[async_trait]
impl IngressStore for PostgresStore {
    async fn record_events(&self, batch: &[EventWrite]) -> Result<Vec<AcceptOutcome>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Rows in (source, de-dup key) order, so concurrent batches lock keys in the
        // same order and cannot deadlock each other.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|a, b| {
            let key = |i: &usize| (&batch[*i].event.source_id, &batch[*i].event.dedup_key);
            key(a).cmp(&key(b))
        });
        let mut outcomes = vec![AcceptOutcome::Recorded; batch.len()];
        for i in order {
            outcomes[i] = record_one(&tx, &batch[i].event, batch[i].run.as_ref()).await?;
        }
        for (secret_id, used_at) in last_uses(batch, &outcomes) {
            tx.execute(
                &tx.prepare_cached(
                    "UPDATE secrets SET last_used_at = $2
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
                )
                .await?,
                &[&secret_id, &used_at, &(used_at - LAST_USED_GRANULARITY)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn record_rejection(&self, rejected: &Rejected, keep: usize) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO ingress_rejections (id, source_id, at, reason, headers_present)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &rejected.id,
                &rejected.source_id,
                &rejected.at,
                &rejected.reason,
                &rejected.headers_present,
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
                "SELECT id, source_id, at, reason, headers_present FROM ingress_rejections
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
            })
            .collect())
    }
}
