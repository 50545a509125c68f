use super::{Queue, QueueError, RunEventHandler, RunMessage};
use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Embedded mode's stand-in for RabbitMQ: publishes are handed to in-process
/// subscribers. Nothing is lost by being in memory, because the store's outbox (not
/// this queue) is the durable record of every run.
pub struct MemoryQueue {
    runs: broadcast::Sender<RunMessage>,
}

impl MemoryQueue {
    /// Slow subscribers that fall this far behind miss messages, like a consumer
    /// whose queue overflowed; the store still holds every run.
    const CAPACITY: usize = 4096;

    pub fn new() -> Self {
        Self {
            runs: broadcast::channel(Self::CAPACITY).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RunMessage> {
        self.runs.subscribe()
    }
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    fn destination(&self) -> super::Destination<'_> {
        super::Destination {
            system: "hookgate",
            name: "in-process",
        }
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }

    async fn publish_runs(&self, messages: &[RunMessage]) -> Vec<Result<(), QueueError>> {
        messages
            .iter()
            .map(|message| {
                // No subscriber is not an error: in-process consumers are optional.
                let _ = self.runs.send(message.clone());
                Ok(())
            })
            .collect()
    }

    /// Embedded mode takes run events over HTTP only: there is no broker to consume.
    async fn consume_run_events(&self, _handler: RunEventHandler, shutdown: CancellationToken) {
        shutdown.cancelled().await;
    }
}
