//! Housekeeping of the ingress event log (SPEC §11): bodies past the payload retention
//! are dropped in bounded batches (the rows stay listed with `body_expired`), the
//! quiet-sources and sealed-secrets gauges are refreshed, and console sessions idle
//! past their limit are deleted (they already sign nobody in; this keeps the table
//! small).
//!
//! In PostgreSQL a dropped body is a HOT update of its row (`events` keeps 30 % of each
//! page free, migration 0010): 8 µs of database CPU per body, so a batch of 500 takes a
//! few ms and the janitor keeps pace with well over 10k events/s. Dropping whole time
//! partitions of a separate body table was measured too and costs more: its extra
//! insert on the ingress path (~14 µs per webhook) outweighs the update it saves
//! (BENCHMARKS.md, "Findings behind the current design").

use crate::crypto::Keyring;
use crate::metrics::Metrics;
use crate::store::Store;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bodies dropped per statement: small enough that a batch holds its row locks for
/// milliseconds, so it never stalls the ingress writers.
const BATCH: usize = 500;
/// Pause between batches, leaving the database to ingress while a backlog drains.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);
/// How often the janitor wakes.
const ROUND: Duration = Duration::from_secs(60);

pub struct EventLogJanitor {
    pub store: Arc<dyn Store>,
    /// Names the configured key ids of `hookgate_secrets_sealed`.
    pub keyring: Keyring,
    pub metrics: Arc<Metrics>,
    pub payload_retention: Duration,
}

impl EventLogJanitor {
    pub fn spawn(self, tracker: &TaskTracker, shutdown: CancellationToken) {
        tracker.spawn(async move { self.run(shutdown).await });
    }

    async fn run(self, shutdown: CancellationToken) {
        let retention =
            chrono::Duration::from_std(self.payload_retention).unwrap_or(chrono::Duration::MAX);
        // Where the last batch stopped: each walks on from there instead of re-reading
        // what was expired before (reset at start, so one pass re-checks from the oldest).
        let mut after: Option<String> = None;
        while !shutdown.is_cancelled() {
            let now = Utc::now();
            match self.store.count_quiet_sources(now).await {
                Ok(count) => {
                    self.metrics
                        .sources_quiet
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                }
                Err(error) => tracing::warn!(%error, "cannot count quiet sources"),
            }
            crate::rekey::refresh_gauge(self.store.as_ref(), &self.keyring, &self.metrics).await;
            match self
                .store
                .delete_idle_console_sessions(now - crate::store::CONSOLE_SESSION_IDLE)
                .await
            {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "deleted idle console sessions"),
                Err(error) => tracing::warn!(%error, "cannot delete idle console sessions"),
            }
            let before = now - retention;
            let mut expired_batches = 0u64;
            while !shutdown.is_cancelled() {
                match self
                    .store
                    .expire_event_bodies(after.as_deref(), before, BATCH)
                    .await
                {
                    Ok(Some(last)) => {
                        after = Some(last);
                        expired_batches += 1;
                        tokio::time::sleep(BETWEEN_BATCHES).await;
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "event body janitor failed");
                        break;
                    }
                }
            }
            if expired_batches > 0 {
                tracing::info!(
                    batches = expired_batches,
                    "dropped ingress event bodies past retention"
                );
            }
            tokio::select! {
                () = tokio::time::sleep(ROUND) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }
}
