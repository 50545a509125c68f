//! Run events over HTTP under concurrency: the group commit records each once, fans
//! it out once, and isolates an event the store refuses.

use super::{acme, endpoint, ALLOW_LOOPBACK};
use crate::in_both_modes;
use crate::support::receiver::TestReceiver;
use crate::support::server::{Mode, Reply, OPERATOR_TOKEN};
use crate::support::TestServer;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

in_both_modes!(
    concurrent_posts_are_each_recorded_once_and_fanned_out_exactly_once,
    a_run_event_the_store_cannot_hold_is_refused_alone_and_the_others_are_recorded,
);

async fn post_all(server: &TestServer, events: Vec<Value>) -> Vec<Reply> {
    join_all(
        events
            .into_iter()
            .map(|event| server.post("/v1/orgs/acme/events", OPERATOR_TOKEN, event)),
    )
    .await
}

async fn concurrent_posts_are_each_recorded_once_and_fanned_out_exactly_once(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    endpoint(&server, &receiver.url, json!({})).await;
    endpoint(&server, &receiver.url, json!({})).await;
    // 40 events, each posted twice at the same time (a publisher retrying).
    let events = (0..80)
        .map(|n| json!({"event_id": format!("evt-{}", n % 40), "type": "run.completed"}))
        .collect();
    let replies = post_all(&server, events).await;
    let mut first_answers: HashMap<String, usize> = HashMap::new();
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["event_id"].as_str().unwrap().to_owned();
        if reply.body["duplicate"] == false {
            assert_eq!(reply.body["deliveries"], 2);
            *first_answers.entry(id).or_default() += 1;
        } else {
            assert_eq!(reply.body["deliveries"], 0);
        }
    }
    assert_eq!(first_answers.len(), 40);
    assert!(first_answers.values().all(|n| *n == 1), "{first_answers:?}");

    let received = receiver.wait_for(80, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 80);
    // Anything fanned out twice would arrive by now or very soon after.
    let received = receiver.wait_for(81, Duration::from_millis(500)).await;
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for delivery in &received {
        *per_id
            .entry(delivery.header("webhook-id").unwrap())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), 40);
    assert!(per_id.values().all(|n| *n == 2), "{per_id:?}");
    server.stop().await.unwrap();
}

/// PostgreSQL cannot hold a NUL character in `jsonb`: such an event is refused with a
/// 422 naming the field, in both modes, and the events sent with it are recorded.
async fn a_run_event_the_store_cannot_hold_is_refused_alone_and_the_others_are_recorded(
    mode: Mode,
) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    endpoint(&server, &receiver.url, json!({})).await;
    let events = (0..30)
        .map(|n| {
            let text = if n == 7 { "nul \u{0}" } else { "fine" };
            json!({"event_id": format!("evt-{n}"), "type": "run.completed", "data": {"text": text}})
        })
        .collect();
    let replies = post_all(&server, events).await;
    for (n, reply) in replies.iter().enumerate() {
        if n == 7 {
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                reply.body
            );
            assert_eq!(reply.error_code(), "validation_failed");
            assert_eq!(reply.body["error"]["details"]["field"], "data.text");
        } else {
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{n}: {}", reply.body);
            assert_eq!(reply.body["deliveries"], 1);
        }
    }
    let received = receiver.wait_for(29, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 29);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_event_queue_answers_503_with_retry_after_at_once() {
    // One writer, batches of one and a queue of one: of many simultaneous posts, some
    // find the queue full and are refused instead of waiting.
    let server = TestServer::start_with(
        Mode::Embedded,
        &[
            "--run-event-writers=1",
            "--run-event-batch=1",
            "--run-event-queue=1",
        ],
    )
    .await;
    acme(&server).await;
    let events = (0..64)
        .map(|n| json!({"event_id": format!("evt-{n}"), "type": "run.completed"}))
        .collect();
    let replies = post_all(&server, events).await;
    let refused: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!refused.is_empty(), "some posts found the queue full");
    assert!(replies
        .iter()
        .all(|r| r.status == StatusCode::ACCEPTED || r.status == StatusCode::SERVICE_UNAVAILABLE));
    for reply in refused {
        assert_eq!(reply.error_code(), "unavailable");
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }
    server.stop().await.unwrap();
}
