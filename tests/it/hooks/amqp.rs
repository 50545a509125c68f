//! Run events arriving over RabbitMQ (`hookgate.run-events`), in production mode.

use super::{endpoint, ALLOW_LOOPBACK};
use crate::support::receiver::{official_verifiers_accept, TestReceiver};
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TestServer, AMQP_URL};
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use serde_json::json;
use std::time::Duration;

const SCHEDULER_TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn publish_run_event(prefix: &str, routing_key: &str, body: serde_json::Value) {
    publish_traced_run_event(prefix, routing_key, body, SCHEDULER_TRACE).await;
}

/// Publishes a run event as the scheduler does, with its `traceparent` header.
pub async fn publish_traced_run_event(
    prefix: &str,
    routing_key: &str,
    body: serde_json::Value,
    traceparent: &str,
) {
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        "traceparent".into(),
        lapin::types::AMQPValue::LongString(traceparent.into()),
    );
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            &format!("{prefix}.run-events"),
            routing_key,
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let _ = connection.close(0, "done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_event_from_rabbitmq_reaches_the_receiver_signed_and_moves_the_run_status() {
    let server = TestServer::start_with(Mode::Production, &[ALLOW_LOOPBACK]).await;
    let prefix = server.exchange_prefix.clone().unwrap();
    let receiver = TestReceiver::start().await;
    let (_, secret) = endpoint(
        &server,
        &receiver.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;
    let run_id = trigger_run(&server).await;

    await_consumer_queue(&prefix).await;
    let event = json!({"event_id": "sched-1", "type": "run.completed", "run_id": run_id, "org": "acme",
        "workflow_id": "wf_deploy", "occurred_at": "2026-11-22T12:00:00Z", "data": {"result": "ok"}});
    publish_run_event(&prefix, "run.completed", event.clone()).await;
    publish_run_event(&prefix, "run.completed", event).await; // redelivered by the scheduler
    publish_run_event(&prefix, "run.completed", json!({"type": "no org"})).await; // malformed: dropped

    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received[0].header("webhook-id"), Some("sched-1"));
    assert!(official_verifiers_accept(&secret, &received[0]));
    let trace = received[0].header("traceparent").unwrap();
    assert!(
        trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "continues the scheduler's trace: {trace}"
    );
    let completed = eventually(Duration::from_secs(5), || async {
        server
            .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
            .await
            .body["status"]
            == "completed"
    })
    .await;
    assert!(completed, "run status follows the scheduler's events");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "the duplicate event was not delivered twice"
    );
    delete_queue(&format!("{prefix}.run-events.hookgate")).await;
    server.stop().await.unwrap();
}

/// Triggers a run of `wf_deploy` in `acme`; returns its id.
async fn trigger_run(server: &TestServer) -> String {
    let triggered = server
        .post(
            "/v1/orgs/acme/workflows/wf_deploy/runs",
            OPERATOR_TOKEN,
            json!({"input": {}}),
        )
        .await;
    triggered.body["run"]["id"].as_str().unwrap().to_owned()
}

/// Waits until hookgate's consumer has declared and bound its queue (as soon as the
/// server's consumer connects), so events published from now on reach it.
pub async fn await_consumer_queue(prefix: &str) {
    let queue_ready = eventually(Duration::from_secs(10), || async {
        let connection =
            lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
                .await
                .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let declared = channel
            .queue_declare(
                &format!("{prefix}.run-events.hookgate"),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = connection.close(0, "done").await;
        declared
    })
    .await;
    assert!(queue_ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_run_events_over_rabbitmq_is_recorded_once_each_in_delivery_order() {
    let server = TestServer::start_with(Mode::Production, &[ALLOW_LOOPBACK]).await;
    let prefix = server.exchange_prefix.clone().unwrap();
    let receiver = TestReceiver::start().await;
    endpoint(&server, &receiver.url, json!({})).await;
    let run_id = trigger_run(&server).await;
    await_consumer_queue(&prefix).await;
    // 150 distinct events, each published twice (a scheduler redelivering), on one
    // channel with every confirm in flight: the consumer holds many at once, so its
    // group commit takes them in batches.
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut confirms = Vec::new();
    for round in 0..2 {
        for n in 0..150 {
            // The run moves started → completed → failed → started → … in order; the
            // last new event (n = 149) is a `run.failed`.
            let event_type = ["run.started", "run.completed", "run.failed"][n % 3];
            let body = json!({"event_id": format!("burst-{n}"), "type": event_type,
                "run_id": run_id, "org": "acme", "data": {"round": round}});
            let confirm = channel
                .basic_publish(
                    &format!("{prefix}.run-events"),
                    event_type,
                    BasicPublishOptions::default(),
                    body.to_string().as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .unwrap();
            confirms.push(confirm);
        }
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }
    let _ = connection.close(0, "done").await;
    let received = receiver.wait_for(150, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 150);
    // Anything recorded twice would be delivered by now or very soon after.
    let received = receiver.wait_for(151, Duration::from_millis(500)).await;
    let ids: std::collections::HashSet<_> = received
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!((received.len(), ids.len()), (150, 150));
    let run = server
        .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(
        run.body["status"], "failed",
        "the run's status follows its events in the order the broker delivered them"
    );
    delete_queue(&format!("{prefix}.run-events.hookgate")).await;
    server.stop().await.unwrap();
}

async fn delete_queue(queue: &str) {
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let _ = channel.queue_delete(queue, Default::default()).await;
}
