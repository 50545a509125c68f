//! A test consumer bound to a test's runs exchange: what the scheduler would see.

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub struct Received {
    pub message_id: String,
    pub routing_key: String,
    pub persistent: bool,
    pub headers: BTreeMap<String, String>,
    pub body: serde_json::Value,
}

pub struct RunsConsumer {
    consumer: lapin::Consumer,
    _connection: lapin::Connection,
    /// message_id → times received
    pub seen: HashMap<String, usize>,
}

impl RunsConsumer {
    /// Declares `<prefix>.runs` (as hookgate would) and binds a private queue to it,
    /// so nothing published after this returns is missed.
    pub async fn bind(prefix: &str) -> Self {
        Self::bind_to(prefix, "run.requested.#").await
    }

    /// Bound with another routing key, e.g. `run.cancel_requested.#`.
    pub async fn bind_to(prefix: &str, routing_key: &str) -> Self {
        let connection =
            lapin::Connection::connect(super::AMQP_URL, lapin::ConnectionProperties::default())
                .await
                .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let exchange = format!("{prefix}.runs");
        channel
            .exchange_declare(
                &exchange,
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.name().as_str(),
                &exchange,
                routing_key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let consumer = channel
            .basic_consume(
                queue.name().as_str(),
                "test",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        Self {
            consumer,
            _connection: connection,
            seen: HashMap::new(),
        }
    }

    /// The next message, or None after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Received> {
        let delivery = tokio::time::timeout(wait, self.consumer.next())
            .await
            .ok()??
            .ok()?;
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        let props = &delivery.properties;
        let headers = props
            .headers()
            .as_ref()
            .map(|table| {
                table
                    .inner()
                    .iter()
                    .map(|(k, v)| match v {
                        AMQPValue::LongString(s) => (k.to_string(), s.to_string()),
                        other => (k.to_string(), format!("{other:?}")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let message_id = props
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        *self.seen.entry(message_id.clone()).or_default() += 1;
        Some(Received {
            message_id,
            routing_key: delivery.routing_key.to_string(),
            persistent: *props.delivery_mode() == Some(2),
            headers,
            body: serde_json::from_slice(&delivery.data).unwrap_or(serde_json::Value::Null),
        })
    }

    /// Consumes until every id in `expected` was seen or `within` passes; returns
    /// (missing, duplicates) counted over `expected`.
    pub async fn await_all(&mut self, expected: &[String], within: Duration) -> (usize, usize) {
        let deadline = tokio::time::Instant::now() + within;
        while expected.iter().any(|id| !self.seen.contains_key(id)) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next(left).await.is_none() {
                break;
            }
        }
        let missing = expected
            .iter()
            .filter(|id| !self.seen.contains_key(*id))
            .count();
        let duplicates = expected
            .iter()
            .map(|id| self.seen.get(id).copied().unwrap_or(0).saturating_sub(1))
            .sum();
        (missing, duplicates)
    }
}
