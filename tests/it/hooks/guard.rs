//! The SSRF guard and per-endpoint isolation, against the running server.

use super::{await_status, deliveries, endpoint, publish, ALLOW_LOOPBACK};
use crate::in_both_modes;
use crate::support::receiver::TestReceiver;
use crate::support::server::Mode;
use crate::support::TestServer;
use serde_json::json;
use std::time::{Duration, Instant};

in_both_modes!(
    loopback_and_names_resolving_to_it_are_refused_unless_allow_listed,
    an_endpoint_timing_out_on_every_request_does_not_slow_a_healthy_one,
);

async fn loopback_and_names_resolving_to_it_are_refused_unless_allow_listed(mode: Mode) {
    let server = TestServer::start_with(mode, &[]).await;
    let receiver = TestReceiver::start().await;
    let port = receiver.url.split(':').nth(2).unwrap().to_owned(); // "<port>/hooks"
    let (by_ip, _) = endpoint(&server, &receiver.url, json!({"retry_schedule": "0s"})).await;
    let (by_name, _) = endpoint(
        &server,
        &format!("http://localhost:{port}"),
        json!({"retry_schedule": "0s"}),
    )
    .await;
    let (metadata, _) = endpoint(
        &server,
        "http://169.254.169.254/latest/meta-data",
        json!({"retry_schedule": "0s"}),
    )
    .await;
    publish(&server, json!({"type": "run.completed", "data": {}})).await;
    for endpoint_id in [&by_ip, &by_name, &metadata] {
        let delivery = deliveries(&server, endpoint_id).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let detail = await_status(&server, &delivery, "failed").await;
        assert_eq!(detail["attempts"][0]["error"], "blocked", "{detail}");
        assert!(detail["attempts"][0]["response_status"].is_null());
    }
    assert!(
        receiver.received().is_empty(),
        "no request reached loopback"
    );
    server.stop().await.unwrap();

    let allowed = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    endpoint(&allowed, &receiver.url, json!({})).await;
    publish(&allowed, json!({"type": "run.completed", "data": {}})).await;
    assert_eq!(
        receiver.wait_for(1, Duration::from_secs(10)).await.len(),
        1,
        "allowed when listed"
    );
    allowed.stop().await.unwrap();
}

async fn an_endpoint_timing_out_on_every_request_does_not_slow_a_healthy_one(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let stuck = TestReceiver::start().await;
    stuck.delay(Duration::from_secs(30));
    let healthy = TestReceiver::start().await;
    endpoint(
        &server,
        &stuck.url,
        json!({"timeout_ms": 1000, "event_types": ["run.completed"]}),
    )
    .await;
    endpoint(
        &server,
        &healthy.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;

    // Baseline: the healthy endpoint alone.
    let baseline = latency_of_next_delivery(&server, &healthy, 0).await;
    // Now with the stuck endpoint hanging on every request of a burst.
    let mut latencies = Vec::new();
    for n in 1..=20 {
        latencies.push(latency_of_next_delivery(&server, &healthy, n).await);
    }
    let worst = latencies.iter().max().unwrap();
    println!(
        "healthy endpoint: baseline {baseline:?}, worst of 20 with a stuck neighbour {worst:?}"
    );
    // The stuck endpoint's 1 s timeouts (and up to 8 in flight) never show up here.
    assert!(*worst < Duration::from_millis(900), "worst {worst:?}");
    assert!(
        stuck.received().len() >= 2,
        "the stuck endpoint was being tried meanwhile"
    );
    server.stop().await.unwrap();
}

/// Publishes one event and measures until the healthy receiver has it.
async fn latency_of_next_delivery(
    server: &TestServer,
    receiver: &TestReceiver,
    already: usize,
) -> Duration {
    let started = Instant::now();
    publish(server, json!({"type": "run.completed", "data": {}})).await;
    let received = receiver
        .wait_for(already + 1, Duration::from_secs(10))
        .await;
    assert!(received.len() > already, "delivered");
    received[already].at.duration_since(started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_send_the_same_attempt() {
    let database = crate::support::postgres_url().await;
    let prefix = crate::support::amqp_prefix();
    let one = TestServer::production_flags_pub(&database, &prefix, &[ALLOW_LOOPBACK]).await;
    let two = TestServer::production_flags_pub(&database, &prefix, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    endpoint(&one, &receiver.url, json!({})).await;
    for n in 0..60 {
        let server = if n % 2 == 0 { &one } else { &two };
        publish(server, json!({"type": "run.completed", "data": {"n": n}})).await;
    }
    let received = receiver.wait_for(60, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // any duplicate would arrive now
    let received = receiver.received().len().max(received.len());
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    println!(
        "two instances: {received} requests for {} events",
        ids.len()
    );
    assert_eq!(ids.len(), 60);
    assert_eq!(received, 60, "each delivery was sent once");
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}
