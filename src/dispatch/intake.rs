//! Run-event intake (SPEC §6): run events from `POST /v1/orgs/{org}/events` and from
//! RabbitMQ are recorded and fanned out through a [`GroupCommit`], many events per
//! transaction, each caller answered at its event's commit.
//!
//! [`broker_handler`] is how RabbitMQ's messages enter it.
//!
//! One transaction per event capped intake near 500 events/s, below what the delivery
//! workers drain; batching moves the limit to the store's row rate.

use super::DeliveryLink;
use crate::group_commit::{CommitError, Committer, GroupCommit, GroupCommitConfig};
use crate::queue::{Handled, RunEventHandler};
use crate::run_events::IncomingRunEvent;
use crate::runs::RunWakes;
use crate::store::{
    RecordedRunEvent, RecordedRunEvents, RunEvent, RunEventWrite, RunWake, Store, StoreError,
};
use crate::telemetry::SPAN_TARGET;
use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, Span};

/// Why a run event was not recorded.
pub type IntakeError = CommitError<StoreError>;

/// Records batches through [`DeliveryStore::record_and_claim_run_events`](crate::store::DeliveryStore::record_and_claim_run_events),
/// hands the deliveries this instance can start now to its workers and wakes the claim
/// loop for the others, and wakes the live readers of the runs a batch moved.
struct RunEventLog {
    store: Arc<dyn Store>,
    deliveries: DeliveryLink,
    run_wakes: RunWakes,
}

#[async_trait]
impl Committer for RunEventLog {
    type Item = RunEventWrite;
    type Output = RecordedRunEvent;
    type Error = StoreError;

    async fn commit(&self, batch: &[RunEventWrite]) -> Result<Vec<RecordedRunEvent>, StoreError> {
        let hand_off = self.deliveries.hand_off(Utc::now());
        let RecordedRunEvents {
            events: recorded,
            claimed,
        } = self
            .store
            .record_and_claim_run_events(batch, hand_off.as_ref())
            .await?;
        // One wake per batch: the claim loop then claims the rest of its deliveries.
        let created: usize = recorded.iter().map(|r| r.deliveries).sum();
        let unclaimed = created.saturating_sub(claimed.len());
        self.deliveries.deliver(claimed, unclaimed);
        // This instance's live readers; other instances hear of it from the store.
        let moved: Vec<(String, String)> = batch
            .iter()
            .zip(&recorded)
            .filter(|(_, recorded)| recorded.new)
            .filter_map(|(write, _)| {
                let event = &write.event;
                event.run_id.clone().map(|run| (event.org.to_string(), run))
            })
            .collect();
        if !moved.is_empty() {
            self.run_wakes.wake(RunWake::Runs(moved));
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
        deliveries: DeliveryLink,
        run_wakes: RunWakes,
        config: GroupCommitConfig,
        tracker: &TaskTracker,
    ) -> Self {
        let log = RunEventLog {
            store,
            deliveries,
            run_wakes,
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

/// Records each run event from the broker through the group commit; acked only once
/// committed. Events are queued one after another in delivery order (so a run's status
/// follows its events as the broker delivered them), and their records are awaited
/// together (up to the consumer's prefetch), so they commit in batches.
// Yielding a future is the point: queuing is awaited in delivery order, recording is not.
#[allow(clippy::async_yields_async)]
pub fn broker_handler(writer: RunEventWriter) -> RunEventHandler {
    Arc::new(move |body: Bytes, traceparent: Option<String>| {
        let writer = writer.clone();
        Box::pin(async move {
            let event = serde_json::from_slice::<IncomingRunEvent>(&body)
                .map_err(|e| e.to_string())
                .and_then(|incoming| {
                    incoming
                        .validate(None, traceparent.as_deref(), Utc::now())
                        .map_err(|e| e.to_string())
                });
            let mut event = match event {
                Ok(event) => event,
                Err(reason) => {
                    tracing::warn!(%reason, "malformed run event dropped");
                    return settled(Handled::Malformed);
                }
            };
            let span = record_span(&mut event, Parent::Broker(traceparent.as_deref()));
            match writer.queue(event).await {
                Ok(recorded) => {
                    let settle: BoxFuture<'static, Handled> =
                        Box::pin(async move { record_outcome(recorded.await) }.instrument(span));
                    settle
                }
                Err(error) => settled(record_outcome::<()>(Err(error))),
            }
        })
    })
}

/// Where a run event's trace comes from.
pub enum Parent<'a> {
    /// The API request that posts it (the current span).
    Request,
    /// The broker message's `traceparent` header, if any.
    Broker(Option<&'a str>),
}

/// `run_event.record`: taking one run event in, until it commits. When it is exported
/// the event keeps this span's `traceparent`, so its deliveries continue it.
pub fn record_span(event: &mut RunEvent, parent: Parent<'_>) -> Span {
    let span = match parent {
        Parent::Request => tracing::info_span!(target: SPAN_TARGET, "run_event.record",
            event.id = %event.id, event.type = %event.event_type, run.id = event.run_id.as_deref()),
        Parent::Broker(traceparent) => {
            let span = tracing::info_span!(target: SPAN_TARGET, parent: None, "run_event.record",
                event.id = %event.id, event.type = %event.event_type,
                run.id = event.run_id.as_deref(), otel.kind = "consumer");
            crate::telemetry::set_parent(&span, traceparent);
            span
        }
    };
    if let Some(traceparent) = crate::telemetry::traceparent(&span) {
        event.traceparent = Some(traceparent);
    }
    span
}

/// How a run event's message is settled once its record is answered: a failure (when
/// queued or when committed) sends it back to the broker.
fn record_outcome<T>(recorded: Result<T, IntakeError>) -> Handled {
    match recorded {
        Ok(_) => Handled::Recorded,
        // Requeued, it would be refused again forever: settled as malformed instead.
        Err(CommitError::Failed(error)) if error.is_about_an_item() => {
            tracing::warn!(%error, "run event cannot be stored; dropped");
            Handled::Malformed
        }
        Err(error) => {
            tracing::warn!(%error, "cannot record run event; requeued");
            Handled::Retry
        }
    }
}

/// A message already settled when it was taken in.
fn settled(handled: Handled) -> BoxFuture<'static, Handled> {
    Box::pin(std::future::ready(handled))
}
