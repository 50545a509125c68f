//! The outbox relay (SPEC §4): publishes committed runs to the broker and marks them
//! published only after the broker's confirm.
//!
//! Woken by ingress and the trigger API right after their commit (no polling on the
//! hot path), with a slow poll as a safety net for rows committed by other instances
//! or left by a relay that died (their claim lease expires). Each worker claims a
//! batch (`FOR UPDATE SKIP LOCKED` in PostgreSQL), publishes it with every confirm in
//! flight, and marks the confirmed runs in one statement; unconfirmed ones are
//! released for the next attempt.
//!
//! Runs this instance's ingress commits skip the claim: they arrive through the
//! [`handoff`] already claimed, and are published and marked the same way.

mod handoff;

pub use handoff::{handoff, Handed, HandoffReceiver, HandoffSender, Reservation};

use crate::backoff::Backoff;
use crate::metrics::Metrics;
use crate::queue::{Queue, QueueError, RunMessage};
use crate::store::{OutboxItem, Store, StoreError};
use crate::telemetry::SPAN_TARGET;
use chrono::Utc;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Span;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Runs per claim / publish round.
    pub batch_size: usize,
    /// Concurrent workers per instance: while one waits for confirms, another claims.
    pub workers: usize,
    /// How long a claim protects rows from other relays.
    pub lease: Duration,
    /// Safety-net poll when nothing wakes the relay.
    pub poll_interval: Duration,
    pub max_backoff: Duration,
    /// Runs handed over by this instance's writers and not yet published; beyond it
    /// they wait in the outbox for a claim (memory stays bounded).
    pub handoff_capacity: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 512,
            workers: 4,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            handoff_capacity: 4_096,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("store unavailable")]
    Store(#[from] StoreError),
    #[error("{failed} of {total} runs not confirmed: {first}")]
    Unconfirmed {
        failed: usize,
        total: usize,
        first: QueueError,
    },
}

#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    config: RelayConfig,
}

impl Relay {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
        config: RelayConfig,
    ) -> Self {
        Self {
            store,
            queue,
            wake,
            metrics,
            config,
        }
    }

    /// Starts the workers and the stats sampler on `tracker`; they stop when
    /// `shutdown` fires (after finishing the round in progress). The handoff's
    /// workers stop once every writer has stopped and all it holds is published.
    pub fn spawn(
        self,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
        handed: HandoffReceiver,
    ) {
        for _ in 0..self.config.workers {
            let (relay, shutdown) = (self.clone(), shutdown.clone());
            tracker.spawn(async move { relay.work(shutdown).await });
            let (relay, handed) = (self.clone(), handed.clone());
            tracker.spawn(async move { relay.publish_handed(handed).await });
        }
        let relay = self.clone();
        tracker.spawn(async move { relay.sample_stats(shutdown).await });
    }

    async fn work(&self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(100), self.config.max_backoff);
        while !shutdown.is_cancelled() {
            match self.round().await {
                Ok(published) => {
                    backoff.reset();
                    if published == 0 {
                        self.idle(&shutdown).await;
                    }
                }
                Err(error) => {
                    let delay = backoff.next_delay(rand::thread_rng().gen());
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "relay round failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
    }

    /// Waits for a commit, the poll interval or shutdown.
    async fn idle(&self, shutdown: &CancellationToken) {
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep(self.config.poll_interval) => {}
            () = shutdown.cancelled() => {}
        }
    }

    /// Publishes what the writers hand over. A failed batch is released to the claim
    /// path (which retries with backoff), so this loop never stalls on the broker.
    async fn publish_handed(&self, handed: HandoffReceiver) {
        // `batch` keeps its capacity held until its runs are published or released.
        while let Some(mut batch) = handed.next_batch(self.config.batch_size).await {
            let items: Vec<OutboxItem> = batch
                .iter_mut()
                .flat_map(|h| std::mem::take(&mut h.items))
                .collect();
            if let Err(error) = self.publish(items).await {
                tracing::warn!(%error, "publishing handed-over runs failed; left to the claim path");
                self.wake.notify_one();
            }
        }
    }

    /// One claim → publish → mark round; returns how many runs were published.
    async fn round(&self) -> Result<usize, RoundError> {
        let now = Utc::now();
        let lease_until = now + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let items = self
            .store
            .claim_outbox(self.config.batch_size, now, lease_until)
            .await?;
        if items.is_empty() {
            return Ok(0);
        }
        self.publish(items).await
    }

    /// Publishes claimed runs with every confirm in flight, marks the confirmed ones
    /// and releases the rest.
    async fn publish(&self, items: Vec<OutboxItem>) -> Result<usize, RoundError> {
        let total = items.len();
        let (messages, enqueued_at): (Vec<RunMessage>, Vec<_>) = items
            .into_iter()
            .map(|item| {
                let message = RunMessage {
                    run_id: item.run_id,
                    workflow_id: item.workflow_id,
                    headers: item.message_headers,
                    body: item.message,
                };
                (message, item.enqueued_at)
            })
            .unzip();
        let (messages, spans) = self.publish_spans(messages);
        let results = self.queue.publish_runs(&messages).await;
        for (span, result) in spans.iter().zip(&results) {
            if let Err(error) = result {
                span.record("error.type", error_reason(error));
            }
        }
        drop(spans);
        let confirmed_at = Utc::now();
        let mut published = Vec::with_capacity(total);
        let mut unconfirmed = Vec::new();
        let mut first_error = None;
        for ((message, enqueued_at), result) in messages.into_iter().zip(enqueued_at).zip(results) {
            match result {
                Ok(()) => {
                    let lag = (confirmed_at - enqueued_at).to_std().unwrap_or_default();
                    self.metrics.relay_published(lag.as_secs_f64());
                    published.push(message.run_id);
                }
                Err(error) => {
                    self.metrics.relay_failed(error_reason(&error));
                    unconfirmed.push(message.run_id);
                    first_error.get_or_insert(error);
                }
            }
        }
        self.store.mark_published(&published, confirmed_at).await?;
        self.store.release_claims(&unconfirmed).await?;
        match first_error {
            None => Ok(published.len()),
            Some(first) => Err(RoundError::Unconfirmed {
                failed: unconfirmed.len(),
                total,
                first,
            }),
        }
    }

    /// One `relay.publish` span per message, a child of the run's stored trace; the
    /// message then carries that span's `traceparent`, so the scheduler continues the
    /// span that sent it. With export off the spans are disabled and the messages
    /// keep their stored header.
    fn publish_spans(&self, mut messages: Vec<RunMessage>) -> (Vec<RunMessage>, Vec<Span>) {
        let destination = self.queue.destination();
        let mut spans = Vec::new();
        for message in &mut messages {
            let span = tracing::info_span!(target: SPAN_TARGET, parent: None, "relay.publish",
                run.id = %message.run_id, messaging.system = destination.system,
                messaging.destination.name = destination.name,
                messaging.operation.type = "send", otel.kind = "producer",
                error.type = tracing::field::Empty);
            if span.is_disabled() {
                return (messages, Vec::new());
            }
            let stored = message
                .headers
                .iter_mut()
                .find(|(name, _)| name == "traceparent");
            crate::telemetry::set_parent(&span, stored.as_ref().map(|(_, value)| value.as_str()));
            if let (Some(traceparent), Some((_, value))) =
                (crate::telemetry::traceparent(&span), stored)
            {
                *value = traceparent;
            }
            spans.push(span);
        }
        (messages, spans)
    }

    /// Exports the backlog and the age of its oldest run every few seconds.
    /// Also runs the store's outbox housekeeping every 10 s (statistics every minute).
    async fn sample_stats(&self, shutdown: CancellationToken) {
        let mut round: u64 = 0;
        while !shutdown.is_cancelled() {
            match self.store.outbox_stats().await {
                Ok(stats) => self.metrics.outbox(stats, Utc::now()),
                Err(error) => tracing::debug!(%error, "cannot sample outbox stats"),
            }
            if round.is_multiple_of(5) {
                let refresh_statistics = round.is_multiple_of(30);
                if let Err(error) = self.store.maintain_outbox(refresh_statistics).await {
                    tracing::warn!(%error, "outbox housekeeping failed");
                }
            }
            round += 1;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }
}

fn error_reason(error: &QueueError) -> &'static str {
    match error {
        QueueError::Unreachable(_) => "unreachable",
        QueueError::Nacked => "nacked",
        QueueError::Unroutable(_) => "unroutable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_publish_failure_is_a_series_created_at_start() {
        let errors = [
            QueueError::Unreachable("test".into()),
            QueueError::Nacked,
            QueueError::Unroutable("test".into()),
        ];
        for error in &errors {
            let reason = error_reason(error);
            assert!(
                crate::metrics::labels::RELAY_FAILURES.contains(&reason),
                "{reason}"
            );
        }
    }
}
