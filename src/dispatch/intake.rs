//! Run-event intake (SPEC §6): run events from `POST /v1/orgs/{org}/events` and from
//! RabbitMQ are recorded and fanned out through a [`GroupCommit`], many events per
//! transaction, each caller answered at its event's commit.
//!
//! One transaction per event capped intake near 500 events/s, below what the delivery
//! workers drain; batching moves the limit to the store's row rate.

use crate::group_commit::{CommitError, Committer, GroupCommit, GroupCommitConfig};
use crate::store::{RecordedRunEvent, RunEvent, RunEventWrite, Store, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

/// Why a run event was not recorded.
pub type IntakeError = CommitError<StoreError>;

/// Records batches through [`DeliveryStore::record_run_events`](crate::store::DeliveryStore::record_run_events)
/// and wakes the delivery workers when a batch created deliveries.
struct RunEventLog {
    store: Arc<dyn Store>,
    delivery_wake: Arc<Notify>,
}

#[async_trait]
impl Committer for RunEventLog {
    type Item = RunEventWrite;
    type Output = RecordedRunEvent;
    type Error = StoreError;

    async fn commit(&self, batch: &[RunEventWrite]) -> Result<Vec<RecordedRunEvent>, StoreError> {
        let recorded = self.store.record_run_events(batch).await?;
        // One wake per batch: the claim loop then claims the whole batch's deliveries.
        if recorded.iter().any(|r| r.deliveries > 0) {
            self.delivery_wake.notify_one();
        }
        Ok(recorded)
    }

    fn item_failed(&self, write: &RunEventWrite, error: &StoreError) {
        tracing::warn!(%error, event.id = %write.event.id, "cannot record run event");
    }
}

/// The shared handle of the run-event group commit.
#[derive(Clone)]
pub struct RunEventWriter {
    group: GroupCommit<RunEventLog>,
}

impl RunEventWriter {
    /// Starts the writers on `tracker`. They stop once every clone is dropped and the
    /// queue is drained, so every accepted event gets its answer.
    pub fn spawn(
        store: Arc<dyn Store>,
        delivery_wake: Arc<Notify>,
        config: GroupCommitConfig,
        tracker: &TaskTracker,
    ) -> Self {
        let log = RunEventLog {
            store,
            delivery_wake,
        };
        Self {
            group: GroupCommit::spawn(log, config, tracker),
        }
    }

    /// Records the event with whatever else is waiting, refusing at once
    /// ([`CommitError::Full`]) when the queue is full: for HTTP, which answers 503.
    pub async fn try_record(&self, event: RunEvent) -> Result<RecordedRunEvent, IntakeError> {
        self.group.try_submit(Self::write(event)).await
    }

    /// Queues the event, waiting for room when the queue is full (for the RabbitMQ
    /// consumer, whose prefetch bounds what it holds), and returns the wait for its
    /// record. Events are taken in the order they are queued, so with one writer they
    /// commit in that order.
    pub async fn queue(
        &self,
        event: RunEvent,
    ) -> Result<
        impl std::future::Future<Output = Result<RecordedRunEvent, IntakeError>> + Send + 'static,
        IntakeError,
    > {
        self.group.enqueue(Self::write(event)).await
    }

    fn write(event: RunEvent) -> RunEventWrite {
        RunEventWrite {
            event,
            only_endpoint: None,
        }
    }
}
