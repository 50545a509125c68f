//! Example consumer for the scheduler team (docs/amqp.md): a durable quorum queue bound
//! to `hookgate.runs` for run requests and cancel requests, manual acks, bounded
//! prefetch, de-duplication on `message_id`.
//!
//! Run: `cargo run --example scheduler_consumer -- amqp://guest:guest@127.0.0.1:5672/%2f`
//! The integration tests run `consume` against a live hookgate.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use std::collections::{HashSet, VecDeque};

/// Messages in flight per consumer: enough to keep the consumer busy, small enough
/// that a crash redelivers little.
const PREFETCH: u16 = 100;

/// Remembers the last `capacity` message ids. A real scheduler de-duplicates in its
/// own database, in the transaction that creates the run (INSERT … ON CONFLICT DO NOTHING).
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// True the first time `id` is seen.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// What a message asks of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `run.requested.{workflow_id}`: start the run.
    Run,
    /// `run.cancel_requested.{workflow_id}`: stop the run if it is still going.
    Cancel,
}

/// Consumes from `queue` (declared as a durable quorum queue bound to `exchange` with
/// `run.requested.#` and `run.cancel_requested.#`) and calls
/// `handle(request, message_id, body)` once per message id. A message is acked only
/// after `handle` returns true; false requeues it.
pub async fn consume<F>(
    url: &str,
    exchange: &str,
    queue: &str,
    mut handle: F,
) -> Result<(), lapin::Error>
where
    F: FnMut(Request, &str, &serde_json::Value) -> bool,
{
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    // hookgate declares the exchange too; declaring it here makes start order irrelevant.
    channel
        .exchange_declare(
            exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    for routing_key in ["run.requested.#", "run.cancel_requested.#"] {
        channel
            .queue_bind(
                queue,
                exchange,
                routing_key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue,
            "scheduler",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut seen = RecentIds::new(100_000);
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&delivery.data) else {
            // Not ours to fix by retrying: drop it (a dead-letter exchange would keep it).
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..Default::default()
                })
                .await?;
            continue;
        };
        if !seen.first_time(&message_id) {
            delivery.ack(BasicAckOptions::default()).await?; // a redelivery: already handled
            continue;
        }
        let request = if delivery
            .routing_key
            .as_str()
            .starts_with("run.cancel_requested.")
        {
            Request::Cancel
        } else {
            Request::Run
        };
        if handle(request, &message_id, &body) {
            delivery.ack(BasicAckOptions::default()).await?;
        } else {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await?;
        }
    }
    Ok(())
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), lapin::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    consume(
        &url,
        "hookgate.runs",
        "scheduler.run-requests",
        |request, id, body| {
            match request {
                Request::Run => println!(
                    "run {id}: workflow {} for org {}",
                    body["workflow_id"], body["org"]
                ),
                // A real scheduler stops the run if it is still going, then reports
                // `run.cancelled` on hookgate.run-events.
                Request::Cancel => println!(
                    "cancel {}: asked by {} at {}",
                    body["run_id"], body["actor"], body["requested_at"]
                ),
            }
            true
        },
    )
    .await
}
