//! The example consumer of docs/amqp.md receives a GitHub webhook's run, and the
//! message matches the documented JSON Schema.

use super::github_source;
use crate::ingress::{now, signed};
use crate::runs::trigger::assert_matches_documented_schema;
use crate::support::server::Mode;
use crate::support::{TestServer, AMQP_URL};
use serde_json::json;
use std::time::Duration;

#[path = "../../../examples/scheduler_consumer.rs"]
#[allow(dead_code)]
mod scheduler_consumer;

#[test]
fn recent_ids_remembers_a_bounded_window() {
    let mut ids = scheduler_consumer::RecentIds::new(2);
    assert!(ids.first_time("a"));
    assert!(!ids.first_time("a"));
    assert!(ids.first_time("b"));
    assert!(ids.first_time("c"));
    assert!(ids.first_time("a"), "forgotten once out of the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_consumer_receives_a_github_run_and_its_cancel_request_matching_the_schemas() {
    let server = TestServer::start(Mode::Production).await;
    let prefix = server.exchange_prefix.clone().unwrap();
    let exchange = format!("{prefix}.runs");
    let queue = format!("{prefix}.scheduler");
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let consumer = tokio::spawn({
        let (exchange, queue) = (exchange.clone(), queue.clone());
        async move {
            scheduler_consumer::consume(AMQP_URL, &exchange, &queue, move |request, id, body| {
                sender.send((request, id.to_owned(), body.clone())).is_ok()
            })
            .await
        }
    });
    let (source_id, secret) = github_source(&server).await;
    let body = br#"{"ref":"refs/heads/main","repository":{"full_name":"acme/app"}}"#;
    // The consumer binds asynchronously; the relay retries unroutable runs until it has.
    let receipt = server
        .send_webhook(
            &source_id,
            &signed(&json!({"type": "github"}), &secret, body, now(), "gh-1"),
            body,
        )
        .await;
    let (request, message_id, message) =
        tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(request, scheduler_consumer::Request::Run);
    let run_id = receipt.body["run_id"].as_str().unwrap();
    assert_eq!(message_id, run_id);
    assert_eq!(message["input"]["repository"]["full_name"], "acme/app");
    assert_matches_documented_schema(&message);

    // Cancelling the run reaches the same consumer as a cancel request.
    let cancel = server
        .post(
            &format!("/v1/runs/{run_id}/cancel"),
            crate::support::server::OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(
        cancel.status,
        reqwest::StatusCode::ACCEPTED,
        "{}",
        cancel.body
    );
    let (request, message_id, message) =
        tokio::time::timeout(Duration::from_secs(20), received.recv())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(request, scheduler_consumer::Request::Cancel);
    assert_eq!(message_id, format!("{run_id}.cancel"));
    super::trigger::assert_matches_schema(&message, "docs/run-cancel-requested.schema.json");
    consumer.abort();
    delete_queue(&queue).await;
    server.stop().await.unwrap();
}

async fn delete_queue(queue: &str) {
    let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let _ = channel.queue_delete(queue, Default::default()).await;
}
