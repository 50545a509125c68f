//! One suite, both queue backends: RabbitMQ (through a test-owned queue bound to the
//! runs exchange) and the in-process queue (through a subscription).

use crate::support::{amqp_prefix, TcpProxy, AMQP_URL};
use bytes::Bytes;
use futures_util::StreamExt;
use hookgate::queue::{AmqpQueue, MemoryQueue, Queue, QueueError, RunMessage, Topology};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::time::Duration;

/// A message as a consumer sees it.
#[derive(Debug, PartialEq)]
struct Received {
    message_id: String,
    routing_key: String,
    persistent: bool,
    headers: Vec<(String, String)>,
    body: Bytes,
}

enum Probe {
    /// The connection is held so the consumer stays alive.
    Amqp(lapin::Consumer, #[allow(dead_code)] lapin::Connection),
    Memory(tokio::sync::broadcast::Receiver<RunMessage>),
}

impl Probe {
    async fn next(&mut self) -> Received {
        let wait = Duration::from_secs(10);
        match self {
            Probe::Amqp(consumer, _) => {
                let delivery = tokio::time::timeout(wait, consumer.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                delivery.ack(BasicAckOptions::default()).await.unwrap();
                let props = &delivery.properties;
                let mut headers: Vec<(String, String)> = props
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
                headers.sort();
                Received {
                    message_id: props
                        .message_id()
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    routing_key: delivery.routing_key.to_string(),
                    persistent: *props.delivery_mode() == Some(2),
                    headers,
                    body: Bytes::from(delivery.data.clone()),
                }
            }
            Probe::Memory(receiver) => {
                let message = tokio::time::timeout(wait, receiver.recv())
                    .await
                    .unwrap()
                    .unwrap();
                let mut headers = message.headers.clone();
                headers.sort();
                Received {
                    message_id: message.run_id.clone(),
                    routing_key: message.routing_key(),
                    persistent: true,
                    headers,
                    body: message.body,
                }
            }
        }
    }
}

/// A queue owned by the test, bound to the runs exchange of `topology`.
async fn amqp_probe(topology: &Topology) -> Probe {
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
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
            &topology.runs_exchange,
            "run.requested.#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let consumer = channel
        .basic_consume(
            queue.name().as_str(),
            "probe",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    Probe::Amqp(consumer, connection)
}

async fn amqp_pair() -> (Box<dyn Queue>, Probe) {
    let topology = Topology::with_prefix(&amqp_prefix());
    let queue = AmqpQueue::new(AMQP_URL, topology.clone());
    // Declares the topology before the probe binds to it.
    queue.ping().await.unwrap();
    (Box::new(queue), amqp_probe(&topology).await)
}

fn memory_pair() -> (Box<dyn Queue>, Probe) {
    let queue = MemoryQueue::new();
    let probe = Probe::Memory(queue.subscribe());
    (Box::new(queue), probe)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod amqp {
            $( #[tokio::test] async fn $name() { let (q, p) = super::amqp_pair().await; super::$name(q, p).await; } )*
        }
        mod memory {
            $( #[tokio::test] async fn $name() { let (q, p) = super::memory_pair(); super::$name(q, p).await; } )*
        }
    };
}

conformance!(
    publishes_runs_with_id_routing_key_headers_and_body,
    confirms_a_batch_of_runs_in_order,
);

fn run(n: usize) -> RunMessage {
    RunMessage {
        run_id: format!("run_{n}"),
        workflow_id: "wf_deploy".into(),
        headers: vec![
            ("hookgate-org".into(), "acme".into()),
            (
                "traceparent".into(),
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            ),
        ],
        body: Bytes::from(format!("{{\"run_id\":\"run_{n}\"}}")),
    }
}

async fn publishes_runs_with_id_routing_key_headers_and_body(
    queue: Box<dyn Queue>,
    mut probe: Probe,
) {
    queue.ping().await.unwrap();
    let results = queue.publish_runs(&[run(1)]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let received = probe.next().await;
    assert_eq!(
        received,
        Received {
            message_id: "run_1".into(),
            routing_key: "run.requested.wf_deploy".into(),
            persistent: true,
            headers: run(1).headers,
            body: run(1).body,
        }
    );
}

async fn confirms_a_batch_of_runs_in_order(queue: Box<dyn Queue>, mut probe: Probe) {
    let batch: Vec<RunMessage> = (0..50).map(run).collect();
    let results = queue.publish_runs(&batch).await;
    assert_eq!(results.len(), 50);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(probe.next().await.message_id);
    }
    ids.sort();
    let mut expected: Vec<String> = (0..50).map(|n| format!("run_{n}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn amqp_reports_every_message_unreachable_while_the_broker_is_cut_off_and_recovers() {
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let url = format!("amqp://guest:guest@{}/%2f", proxy.addr());
    let topology = Topology::with_prefix(&amqp_prefix());
    let queue = AmqpQueue::new(&url, topology.clone());
    queue.ping().await.unwrap();
    let mut probe = amqp_probe(&topology).await;

    proxy.cut();
    let results = queue.publish_runs(&[run(1), run(2)]).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(QueueError::Unreachable(_)))),
        "{results:?}"
    );
    assert!(queue.ping().await.is_err());

    proxy.restore();
    queue.ping().await.unwrap();
    let results = queue.publish_runs(&[run(3)]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(probe.next().await.message_id, "run_3");
}

#[tokio::test]
async fn amqp_reports_unroutable_runs_instead_of_dropping_them() {
    let queue = AmqpQueue::new(AMQP_URL, Topology::with_prefix(&amqp_prefix()));
    let results = queue.publish_runs(&[run(1)]).await;
    assert!(
        matches!(results[0], Err(QueueError::Unroutable(_))),
        "{results:?}"
    );
}
