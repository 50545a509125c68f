//! RabbitMQ through lapin: one connection and one confirm-mode channel, re-established
//! lazily whenever they are found broken, with the topology declared on every connect.

use super::{Handled, Queue, QueueError, RunEventHandler, RunMessage};
use crate::backoff::Backoff;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use rand::Rng;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// hookgate's own queue on `<prefix>.run-events`: `<prefix>.run-events.hookgate`, shared
/// by all instances (competing consumers).
pub const RUN_EVENTS_QUEUE_SUFFIX: &str = "hookgate";
/// Run events in flight per consumer. They are handled concurrently and the handler
/// group-commits them, so this bounds the batches the consumer alone can form (two
/// writers' worth of the default run-event batch).
const RUN_EVENTS_PREFETCH: u16 = 256;

/// A broker that does not answer within this long counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A confirm not received by then counts as failed; the run is published again later
/// (at-least-once), which consumers de-duplicate by message_id.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// Exchange names (SPEC §4). The prefix is `hookgate` in production; tests give each
/// test its own prefix so they can share one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub runs_exchange: String,
    pub run_events_exchange: String,
    /// Type of hookgate's own run-events queue: `quorum` (replicated; production) or
    /// `classic` (cheap to create and drop; test suites).
    pub run_events_queue_type: String,
}

impl Topology {
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            runs_exchange: format!("{prefix}.runs"),
            run_events_exchange: format!("{prefix}.run-events"),
            run_events_queue_type: "quorum".to_owned(),
        }
    }
}

struct Link {
    connection: Connection,
    channel: Channel,
}

impl Link {
    fn is_healthy(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }

    /// Best effort, bounded: the peer is likely gone already.
    async fn close_quietly(self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.connection.close(0, "reconnecting"),
        )
        .await;
    }
}

pub struct AmqpQueue {
    url: String,
    topology: Topology,
    link: Mutex<Option<Link>>,
}

fn unreachable(error: impl std::error::Error + Send + Sync + 'static) -> QueueError {
    QueueError::Unreachable(Box::new(error))
}

impl AmqpQueue {
    pub fn run_events_queue(&self) -> String {
        format!(
            "{}.{RUN_EVENTS_QUEUE_SUFFIX}",
            self.topology.run_events_exchange
        )
    }

    /// One consuming session: declare, bind, consume until the connection fails or
    /// `shutdown` fires.
    async fn consume_session(
        &self,
        handler: &RunEventHandler,
        shutdown: &CancellationToken,
    ) -> Result<(), QueueError> {
        let link = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(unreachable)??;
        let queue = self.run_events_queue();
        let mut arguments = FieldTable::default();
        // Quorum by default: replicated and durable, like the scheduler's queue (docs/amqp.md).
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(self.topology.run_events_queue_type.clone().into()),
        );
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(unreachable)?;
        channel
            .queue_declare(
                &queue,
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .map_err(unreachable)?;
        channel
            .queue_bind(
                &queue,
                &self.topology.run_events_exchange,
                "#",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unreachable)?;
        channel
            .basic_qos(RUN_EVENTS_PREFETCH, BasicQosOptions::default())
            .await
            .map_err(unreachable)?;
        let mut consumer = channel
            .basic_consume(
                &queue,
                "hookgate",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unreachable)?;
        // Every prefetched message is taken in at once rather than one after another, so
        // the handler's group commit records them in batches; each is still acked only
        // once its handler has answered. Taking in is awaited here, in delivery order:
        // polled together, the futures could reach the group commit in another order.
        let mut in_flight = FuturesUnordered::new();
        loop {
            let delivery = tokio::select! {
                Some(settled) = in_flight.next() => {
                    settled?;
                    continue;
                }
                next = consumer.next() => next,
                () = shutdown.cancelled() => {
                    // Settle what is being handled; what is not acked is redelivered.
                    while let Some(settled) = in_flight.next().await {
                        if let Err(error) = settled {
                            tracing::warn!(%error, "run event not settled at shutdown");
                        }
                    }
                    link.close_quietly().await;
                    return Ok(());
                }
            };
            let Some(delivery) = delivery else {
                return Err(QueueError::Unreachable("consumer stream ended".into()));
            };
            let delivery = delivery.map_err(unreachable)?;
            let traceparent = delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|table| table.inner().get("traceparent").cloned())
                .and_then(|value| match value {
                    AMQPValue::LongString(text) => Some(text.to_string()),
                    _ => None,
                });
            let handled = handler(Bytes::from(delivery.data.clone()), traceparent).await;
            in_flight.push(settle(handled, delivery));
        }
    }

    /// Does not connect: hookgate starts (and keeps accepting webhooks into the
    /// outbox) while the broker is down.
    pub fn new(url: &str, topology: Topology) -> Self {
        Self {
            url: url.to_owned(),
            topology,
            link: Mutex::new(None),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The confirm-mode channel, connecting first if there is no healthy one.
    async fn channel(&self) -> Result<Channel, QueueError> {
        let mut link = self.link.lock().await;
        if let Some(current) = link.as_ref().filter(|l| l.is_healthy()) {
            return Ok(current.channel.clone());
        }
        if let Some(broken) = link.take() {
            broken.close_quietly().await;
        }
        let fresh = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(unreachable)??;
        let channel = fresh.channel.clone();
        *link = Some(fresh);
        Ok(channel)
    }

    /// Drops the current link so the next use reconnects.
    async fn forget_link(&self) {
        let broken = self.link.lock().await.take();
        if let Some(broken) = broken {
            broken.close_quietly().await;
        }
    }

    async fn connect(&self) -> Result<Link, QueueError> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio)
            .with_connection_name("hookgate".into());
        let connection = Connection::connect(&self.url, properties)
            .await
            .map_err(unreachable)?;
        let channel = connection.create_channel().await.map_err(unreachable)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unreachable)?;
        for exchange in [
            &self.topology.runs_exchange,
            &self.topology.run_events_exchange,
        ] {
            // Durable topic exchanges survive broker restarts; declaring is idempotent.
            channel
                .exchange_declare(
                    exchange,
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(unreachable)?;
        }
        Ok(Link {
            connection,
            channel,
        })
    }

    fn properties(message: &RunMessage) -> BasicProperties {
        let mut headers = FieldTable::default();
        for (name, value) in &message.headers {
            headers.insert(
                ShortString::from(name.clone()),
                AMQPValue::LongString(value.clone().into()),
            );
        }
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(message.run_id.clone().into())
            .with_headers(headers)
    }

    async fn publish_one(&self, channel: &Channel, message: &RunMessage) -> Result<(), QueueError> {
        let routing_key = message.routing_key();
        let confirm = channel
            .basic_publish(
                &self.topology.runs_exchange,
                &routing_key,
                // mandatory: a message no queue takes comes back instead of vanishing.
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &message.body,
                Self::properties(message),
            )
            .await
            .map_err(unreachable)?;
        let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(unreachable)?
            .map_err(unreachable)?;
        match confirmation {
            Confirmation::Ack(Some(_returned)) => Err(QueueError::Unroutable(routing_key)),
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Nack(_) => Err(QueueError::Nacked),
            // Only without confirm mode, which our channel always has.
            Confirmation::NotRequested => Err(QueueError::Nacked),
        }
    }
}

/// Acks, rejects or requeues one run event by its handler's answer.
async fn settle(
    handled: futures_util::future::BoxFuture<'static, Handled>,
    delivery: lapin::message::Delivery,
) -> Result<(), QueueError> {
    let settled = match handled.await {
        Handled::Recorded => delivery.ack(BasicAckOptions::default()).await,
        Handled::Malformed => {
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..Default::default()
                })
                .await
        }
        Handled::Retry => {
            // Give the store a moment before the broker hands it out again.
            tokio::time::sleep(Duration::from_millis(500)).await;
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
        }
    };
    settled.map_err(unreachable)
}

#[async_trait]
impl Queue for AmqpQueue {
    fn destination(&self) -> super::Destination<'_> {
        super::Destination {
            system: "rabbitmq",
            name: &self.topology.runs_exchange,
        }
    }

    /// A real round trip (passive declare): a connection that merely looks open is
    /// not proof that the broker is there.
    async fn ping(&self) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        let probe = channel.exchange_declare(
            &self.topology.runs_exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, probe).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                self.forget_link().await;
                Err(unreachable(error))
            }
            Err(elapsed) => {
                self.forget_link().await;
                Err(unreachable(elapsed))
            }
        }
    }

    async fn publish_runs(&self, messages: &[RunMessage]) -> Vec<Result<(), QueueError>> {
        let channel = match self.channel().await {
            Ok(channel) => channel,
            Err(error) => {
                let reason = error.to_string();
                return messages
                    .iter()
                    .map(|_| Err(QueueError::Unreachable(reason.clone().into())))
                    .collect();
            }
        };
        // All publishes go out before any confirm is awaited: confirms pipeline.
        join_all(messages.iter().map(|m| self.publish_one(&channel, m))).await
    }

    async fn consume_run_events(&self, handler: RunEventHandler, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !shutdown.is_cancelled() {
            match self.consume_session(&handler, &shutdown).await {
                Ok(()) => return,
                Err(error) => {
                    let delay = backoff.next_delay(rand::thread_rng().gen());
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "run-event consumer lost the broker");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
    }
}
