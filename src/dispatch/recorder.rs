//! Group commit for the attempt log (SPEC §6: every attempt logged): attempt tasks
//! hand their record to a [`GroupCommit`]; its writers write each batch with the
//! deliveries' next state in one transaction, answering every task when it commits.
//!
//! One transaction per batch instead of per attempt is what lets the store keep up
//! with thousands of attempts a second. A record that is never committed is not lost
//! work: its delivery's claim lease expires and the attempt is made again.

use crate::group_commit::{Committer, GroupCommit, GroupCommitConfig};
use crate::store::{AttemptRecord, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// Writers, batch size and queue depth of the attempt log's group commit; a full
/// queue makes attempt tasks wait to hand their record over.
pub type RecorderConfig = GroupCommitConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the attempt was not recorded")]
pub struct NotRecorded;

/// Writes attempt records through [`DeliveryStore::record_attempts`](crate::store::DeliveryStore::record_attempts).
struct AttemptLog {
    store: Arc<dyn Store>,
}

#[async_trait]
impl Committer for AttemptLog {
    type Item = AttemptRecord;
    type Output = ();
    type Error = StoreError;

    async fn commit(&self, batch: &[AttemptRecord]) -> Result<Vec<()>, StoreError> {
        self.store.record_attempts(batch).await?;
        Ok(vec![(); batch.len()])
    }

    fn item_failed(&self, record: &AttemptRecord, error: &StoreError) {
        // The claim lease expires and the attempt is made again: at-least-once.
        tracing::error!(%error, delivery.id = %record.attempt.delivery_id,
            "cannot record delivery attempt");
    }
}

#[derive(Clone)]
pub struct AttemptRecorder {
    group: GroupCommit<AttemptLog>,
}

impl AttemptRecorder {
    /// Starts the writers on `tracker`. They stop once every `AttemptRecorder` clone is
    /// dropped and the queue is drained, so every finished attempt gets its write.
    pub fn spawn(store: Arc<dyn Store>, config: RecorderConfig, tracker: &TaskTracker) -> Self {
        Self {
            group: GroupCommit::spawn(AttemptLog { store }, config, tracker),
        }
    }

    /// Writes one attempt and its delivery's next state, with whatever else is waiting;
    /// returns once it is committed. Waits for room rather than refusing: the attempt
    /// has been made, and attempts in flight are already bounded by the claim loop.
    pub async fn record(&self, record: AttemptRecord) -> Result<(), NotRecorded> {
        self.group.submit(record).await.map_err(|_| NotRecorded)
    }
}
