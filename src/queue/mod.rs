//! The queue seam: how run requests leave hookgate.
//!
//! Production mode publishes to RabbitMQ with publisher confirms ([`AmqpQueue`]);
//! embedded mode hands messages to in-process subscribers ([`MemoryQueue`]). Both pass
//! the same conformance suite (`tests/it/queue_conformance.rs`).

mod amqp;
mod memory;

pub use amqp::{AmqpQueue, Topology, RUN_EVENTS_QUEUE_SUFFIX};
pub use memory::MemoryQueue;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What became of a consumed run event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Durably recorded (or a replay): ack.
    Recorded,
    /// Malformed: it will never succeed, so it is dropped (dead-lettered if the queue
    /// has a dead-letter exchange), not redelivered forever.
    Malformed,
    /// Could not be recorded now (store down): requeue.
    Retry,
}

/// Called for each run event's body and `traceparent` header, in delivery order. The
/// returned future takes the event in; the consumer awaits it before the next message,
/// so events are taken in the order the broker delivered them. The future it yields
/// settles the message, and many of those run at once.
pub type RunEventHandler = Arc<
    dyn Fn(Bytes, Option<String>) -> BoxFuture<'static, BoxFuture<'static, Handled>> + Send + Sync,
>;

/// One run request as it goes onto the wire (SPEC §4), or a cancel request (§12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMessage {
    /// Also the AMQP `message_id`: consumers de-duplicate on it.
    pub run_id: String,
    pub workflow_id: String,
    /// AMQP headers such as `traceparent`, `hookgate-org`, `hookgate-source`.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RunMessage {
    /// `run.requested.{workflow_id}`, or for a cancel request (message id
    /// `<run_id>.cancel`) `run.cancel_requested.{workflow_id}`.
    pub fn routing_key(&self) -> String {
        if self.run_id.ends_with(crate::runs::CANCEL_SUFFIX) {
            format!("run.cancel_requested.{}", self.workflow_id)
        } else {
            format!("run.requested.{}", self.workflow_id)
        }
    }
}

/// A queue's `messaging.*` trace attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'a> {
    pub system: &'static str,
    pub name: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("broker unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Where run requests go, as trace spans name it (`messaging.system`,
    /// `messaging.destination.name`).
    fn destination(&self) -> Destination<'_>;

    /// Checks (and if needed re-establishes) the link to the broker.
    async fn ping(&self) -> Result<(), QueueError>;

    /// Publishes every message, all in flight at once, and reports each one's outcome
    /// in order. `Ok` means the broker confirmed it: only then may a run count as
    /// published.
    async fn publish_runs(&self, messages: &[RunMessage]) -> Vec<Result<(), QueueError>>;

    /// Consumes run events (SPEC §6) until `shutdown`, reconnecting as needed; each
    /// message is acked only after `handler` says it is recorded.
    async fn consume_run_events(&self, handler: RunEventHandler, shutdown: CancellationToken);
}
