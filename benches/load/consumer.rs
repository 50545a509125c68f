//! What the scheduler would see: a queue of our own bound to `<prefix>.runs` before the
//! load starts, consumed while it runs, counting every message by `message_id` (= run
//! id), so each 2xx-acked run can be checked off and duplicates counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use tokio::time::Instant;

pub async fn connect(url: &str) -> anyhow::Result<Connection> {
    // On our tokio runtime, like hookgate itself, rather than lapin's own threads.
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    // A broker that accepts TCP but never finishes the handshake must not hang the tool.
    tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "RabbitMQ at {url} did not complete the AMQP handshake within {CONNECT_TIMEOUT:?}"
            )
        })?
        .map_err(Into::into)
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueType {
    /// Durable quorum queue: what docs/amqp.md recommends to the scheduler.
    Quorum,
    /// Durable classic queue.
    Classic,
}

pub struct RunsConsumer {
    connection: Connection,
    queue: String,
    /// message_id → copies received.
    seen: Arc<Mutex<HashMap<String, u32>>>,
    /// Messages received, for progress samples without taking the lock.
    total: Arc<AtomicU64>,
}

pub struct Check {
    pub acked: usize,
    /// Acked runs seen at least once.
    pub published: usize,
    pub missing: usize,
    /// Extra copies of acked runs.
    pub duplicates: u64,
    /// Messages for runs the client never saw acked (e.g. its request timed out).
    pub unacked_published: usize,
    pub messages: u64,
    /// From the end of the load until every acked run was seen (or the wait gave up).
    pub drain: Duration,
}

impl RunsConsumer {
    /// `expected`: about how many messages will come. The count is sized for them up
    /// front, so it never rehashes mid-run (a rehash of 100k+ ids stalls a worker thread
    /// of the load tool for milliseconds, which showed up as a latency spike).
    pub async fn bind(
        url: &str,
        prefix: &str,
        kind: QueueType,
        expected: usize,
    ) -> anyhow::Result<Self> {
        let connection = connect(url).await?;
        let channel = connection.create_channel().await?;
        let exchange = format!("{prefix}.runs");
        channel
            .exchange_declare(
                &exchange,
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let queue = format!("{prefix}.load-consumer");
        let mut arguments = FieldTable::default();
        if kind == QueueType::Quorum {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        channel
            .queue_declare(
                &queue,
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await?;
        channel
            .queue_bind(
                &queue,
                &exchange,
                "run.requested.#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // Automatic acks: the count is what matters here, and this keeps the consumer's
        // own broker work to a minimum.
        let mut consumer = channel
            .basic_consume(
                &queue,
                "hookgate-load",
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let seen = Arc::new(Mutex::new(HashMap::with_capacity(expected)));
        let total = Arc::new(AtomicU64::new(0));
        let (counter, received) = (seen.clone(), total.clone());
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                if let Ok(mut seen) = counter.lock() {
                    *seen.entry(id).or_default() += 1;
                }
                received.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(Self {
            connection,
            queue,
            seen,
            total,
        })
    }

    /// A live count of messages received.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.total.clone()
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn missing(&self, acked: &[String]) -> usize {
        self.seen
            .lock()
            .map(|s| acked.iter().filter(|id| !s.contains_key(*id)).count())
            .unwrap_or(acked.len())
    }

    /// Waits until every acked run was seen, or nothing arrived for `idle`, or `limit`
    /// passed; then counts.
    pub async fn check(&self, acked: &[String], idle: Duration, limit: Duration) -> Check {
        let start = Instant::now();
        let mut last_total = self.total();
        let mut last_change = start;
        loop {
            let total = self.total();
            if total != last_total {
                last_total = total;
                last_change = Instant::now();
            }
            if total >= acked.len() as u64 && self.missing(acked) == 0 {
                break;
            }
            if last_change.elapsed() > idle || start.elapsed() > limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let drain = start.elapsed();
        let seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let acked_set: std::collections::HashSet<&str> = acked.iter().map(String::as_str).collect();
        let published = acked.iter().filter(|id| seen.contains_key(*id)).count();
        let duplicates = acked
            .iter()
            .map(|id| u64::from(seen.get(id).copied().unwrap_or(0).saturating_sub(1)))
            .sum();
        let unacked_published = seen
            .keys()
            .filter(|id| !acked_set.contains(id.as_str()))
            .count();
        Check {
            acked: acked.len(),
            published,
            missing: acked.len() - published,
            duplicates,
            unacked_published,
            messages: self.total(),
            drain,
        }
    }

    /// Deletes the queue and closes the connection.
    pub async fn close(self) {
        if let Ok(channel) = self.connection.create_channel().await {
            let _ = channel
                .queue_delete(&self.queue, QueueDeleteOptions::default())
                .await;
        }
        let _ = self.connection.close(0, "hookgate-load done").await;
    }
}
