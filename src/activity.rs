//! Outcomes per source and per endpoint, counted in memory on the request path and
//! added to the store every few seconds (SPEC §13's overview: accepted, rejected and
//! duplicate per source over the last hour; deliveries by outcome per endpoint).
//!
//! Counting costs one short lock and no I/O per webhook; the flusher writes one row
//! per subject and outcome per interval, however many requests there were, so a flood
//! of forgeries is not a flood of writes. A crash loses at most one interval of these
//! display counts; Prometheus's counters (§8) stay the authoritative figures.

use crate::store::{activity_bucket, ActivityCount, OrgSlug, Store};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often counts are added to the store.
const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// How long buckets are kept: the overview reads the last hour; a day leaves room to
/// look back after an incident.
const KEEP: chrono::TimeDelta = chrono::TimeDelta::hours(25);
/// Prune once in this many flushes (every ten minutes).
const PRUNE_EVERY_FLUSHES: u32 = 60;

type Key = (DateTime<Utc>, String, &'static str);

#[derive(Default)]
pub struct Activity {
    /// (bucket, subject, outcome) → (org, count). Subjects are ids hookgate made
    /// (sources, endpoints), never what a client sent.
    counts: Mutex<HashMap<Key, (OrgSlug, u64)>>,
}

impl Activity {
    /// Counts one `outcome` of `subject_id` (of `org`) at `at`.
    pub fn record(
        &self,
        org: &OrgSlug,
        subject_id: &str,
        outcome: &'static str,
        at: DateTime<Utc>,
    ) {
        let key = (activity_bucket(at), subject_id.to_owned(), outcome);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.entry(key).or_insert_with(|| (org.clone(), 0)).1 += 1;
    }

    /// Everything counted since the last drain.
    pub fn drain(&self) -> Vec<ActivityCount> {
        let drained = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        drained
            .into_iter()
            .map(
                |((bucket, subject_id, outcome), (org, count))| ActivityCount {
                    org,
                    subject_id,
                    bucket,
                    outcome: outcome.to_owned(),
                    count,
                },
            )
            .collect()
    }

    /// Adds the counts to the store every few seconds, and once more at shutdown.
    pub fn spawn_flusher(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) {
        let activity = Arc::clone(self);
        tracker.spawn(async move {
            let mut flushes = 0u32;
            loop {
                let stopping = tokio::select! {
                    () = tokio::time::sleep(FLUSH_EVERY) => false,
                    () = shutdown.cancelled() => true,
                };
                activity.flush(store.as_ref()).await;
                if stopping {
                    return;
                }
                flushes += 1;
                if flushes % PRUNE_EVERY_FLUSHES == 1 {
                    if let Err(error) = store.prune_activity(Utc::now() - KEEP).await {
                        tracing::warn!(%error, "cannot prune activity counts");
                    }
                }
            }
        });
    }

    /// Adds what was counted so far to the store. The overview calls it too, so this
    /// instance's counts are current there and other instances' lag one interval.
    pub async fn flush(&self, store: &dyn Store) {
        let counts = self.drain();
        if let Err(error) = store.add_activity(&counts).await {
            // Display counts: dropped rather than piled up while the store is away.
            tracing::warn!(%error, rows = counts.len(), "cannot record activity counts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(slug: &str) -> OrgSlug {
        OrgSlug::parse(slug).unwrap()
    }

    #[test]
    fn counts_each_subject_outcome_and_bucket_apart_and_drains_once() {
        let activity = Activity::default();
        let t0: DateTime<Utc> = "2026-12-06T10:01:00Z".parse().unwrap();
        let later_bucket: DateTime<Utc> = "2026-12-06T10:06:00Z".parse().unwrap();
        activity.record(&org("acme"), "src_a", "accepted", t0);
        activity.record(&org("acme"), "src_a", "accepted", t0);
        activity.record(&org("acme"), "src_a", "rejected", t0);
        activity.record(&org("acme"), "src_a", "accepted", later_bucket);
        activity.record(&org("beta"), "ep_b", "delivered", t0);
        let mut counts = activity.drain();
        counts.sort_by(|a, b| {
            (&a.subject_id, a.bucket, &a.outcome).cmp(&(&b.subject_id, b.bucket, &b.outcome))
        });
        let seen: Vec<(&str, &str, String, &str, u64)> = counts
            .iter()
            .map(|c| {
                (
                    c.org.as_str(),
                    c.subject_id.as_str(),
                    c.bucket.format("%H:%M").to_string(),
                    c.outcome.as_str(),
                    c.count,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("beta", "ep_b", "10:00".to_owned(), "delivered", 1),
                ("acme", "src_a", "10:00".to_owned(), "accepted", 2),
                ("acme", "src_a", "10:00".to_owned(), "rejected", 1),
                ("acme", "src_a", "10:05".to_owned(), "accepted", 1),
            ]
        );
        assert!(activity.drain().is_empty());
    }
}
