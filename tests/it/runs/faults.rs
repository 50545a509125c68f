//! Nothing acknowledged is lost: broker outage, SIGKILL under load, store outage,
//! and two instances sharing one PostgreSQL and one RabbitMQ (issue #4's fault tests).
//! Each prints the missing and duplicate counts it measured.

use super::{github_source, send_load, send_load_with_retries};
use crate::ingress::{now, signed, source_body};
use crate::support::consumer::RunsConsumer;
use crate::support::process::ServerProcess;
use crate::support::server::{MASTER_KEY, OPERATOR_TOKEN};
use crate::support::{amqp_prefix, postgres_url, TcpProxy, TestServer, AMQP_URL};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_no_accepted_run() {
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let server = TestServer::production(&format!("amqp://guest:guest@{}/%2f", proxy.addr())).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    let (source_id, secret) = github_source(&server).await;

    let before = send_load(&server.url, &source_id, &secret, 50, 8).await;
    proxy.cut();
    let during = send_load(&server.url, &source_id, &secret, 300, 8).await;
    assert_eq!(
        during.len(),
        300,
        "every webhook got 202 while the broker was down"
    );
    proxy.restore();
    let after = send_load(&server.url, &source_id, &secret, 50, 8).await;

    let acked: Vec<String> = [before, during, after].concat();
    let (missing, duplicates) = consumer.await_all(&acked, Duration::from_secs(60)).await;
    println!(
        "broker outage: acked={} missing={missing} duplicates={duplicates}",
        acked.len()
    );
    assert_eq!(missing, 0);
    server.stop().await.unwrap();
}

async fn api(client: &reqwest::Client, url: String, body: serde_json::Value) -> serde_json::Value {
    let response = client
        .post(url)
        .bearer_auth(OPERATOR_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_run() {
    let prefix = amqp_prefix();
    let mut consumer = RunsConsumer::bind(&prefix).await;
    let args = vec![
        format!("--database-url={}", postgres_url().await),
        format!("--amqp-url={AMQP_URL}"),
        format!("--amqp-exchange-prefix={prefix}"),
        "--amqp-queue-type=classic".to_owned(),
        format!("--operator-token={OPERATOR_TOKEN}"),
        format!("--master-key={MASTER_KEY}"),
        // The dead instance's claims block its batches for this long.
        "--relay-lease=2s".to_owned(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let first = ServerProcess::start(dir.path(), &args);
    let client = reqwest::Client::new();
    api(
        &client,
        format!("{}/v1/orgs", first.url),
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    let created = api(
        &client,
        format!("{}/v1/orgs/acme/sources", first.url),
        source_body(&json!({"type": "github"}), None),
    )
    .await;
    let source_id = created["source"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();

    let load = tokio::spawn({
        let (url, source_id, secret) = (first.url.clone(), source_id.clone(), secret.clone());
        async move { send_load(&url, &source_id, &secret, 3000, 16).await }
    });
    // Kill once a good part of the load has been acknowledged, with more in flight.
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.crash();
    let acked = load.await.unwrap();
    assert!(
        !acked.is_empty(),
        "some webhooks were acknowledged before the crash"
    );

    let second = ServerProcess::start(dir.path(), &args);
    let (missing, duplicates) = consumer.await_all(&acked, Duration::from_secs(60)).await;
    println!(
        "sigkill under load: acked={} missing={missing} duplicates={duplicates}",
        acked.len()
    );
    assert_eq!(missing, 0);
    assert!(second.terminate().success());
    crate::support::server::delete_exchanges(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_answers_503_with_retry_after_and_recovers_without_restart() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let database = postgres_url()
        .await
        .replace("127.0.0.1:5432", &proxy.addr().to_string());
    let server = TestServer::production_with_database(&database, AMQP_URL).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    let (source_id, secret) = github_source(&server).await;
    let verifier = json!({"type": "github"});
    let body = br#"{"ref":"refs/heads/main"}"#;

    proxy.cut();
    let refused = server
        .send_webhook(
            &source_id,
            &signed(&verifier, &secret, body, now(), "down-1"),
            body,
        )
        .await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(refused.headers.contains_key("retry-after"));

    proxy.restore();
    let accepted = crate::support::eventually(Duration::from_secs(15), || async {
        let reply = server
            .send_webhook(
                &source_id,
                &signed(&verifier, &secret, body, now(), "down-1"),
                body,
            )
            .await;
        reply.status == StatusCode::ACCEPTED
    })
    .await;
    assert!(
        accepted,
        "the sender's retry is accepted once the store is back"
    );
    let run = consumer.next(Duration::from_secs(10)).await;
    assert!(run.is_some(), "and its run is published");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_store_and_broker_publish_every_run() {
    let database = postgres_url().await;
    let prefix = amqp_prefix();
    let mut consumer = RunsConsumer::bind(&prefix).await;
    let one = TestServer::production_shared(&database, AMQP_URL, &prefix).await;
    let two = TestServer::production_shared(&database, AMQP_URL, &prefix).await;
    let (source_id, secret) = github_source(&one).await;

    // Retried on 503: with two servers and the suite on 2 cores, a writer can fall
    // behind its max wait and shed; what this test proves is that nothing acked is lost.
    let (a, b) = tokio::join!(
        send_load_with_retries(&one.url, &source_id, &secret, 400, 8, 20),
        send_load_with_retries(&two.url, &source_id, &secret, 400, 8, 20),
    );
    assert_eq!(a.len() + b.len(), 800);
    let acked = [a, b].concat();
    let (missing, _) = consumer.await_all(&acked, Duration::from_secs(60)).await;
    // Drain briefly so late duplicates are counted too.
    while consumer.next(Duration::from_millis(500)).await.is_some() {}
    let duplicates: usize = acked
        .iter()
        .map(|id| consumer.seen[id].saturating_sub(1))
        .sum();
    println!(
        "two instances: acked={} missing={missing} duplicates={duplicates}",
        acked.len()
    );
    assert_eq!(missing, 0);
    assert_eq!(duplicates, 0, "no faults, so no run is published twice");
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_capacity_ingress_answers_503_with_retry_after_and_loses_no_acknowledged_run() {
    burst_is_partly_refused_without_losing_acked_runs(&[
        "--ingress-queue=1",
        "--ingress-writers=1",
        "--ingress-batch=1",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_refuses_at_once_while_events_wait_longer_than_the_max_wait() {
    // The queue has room for the whole burst: only the queueing time can refuse.
    burst_is_partly_refused_without_losing_acked_runs(&[
        "--ingress-queue=4096",
        "--ingress-writers=1",
        "--ingress-batch=1",
        "--ingress-max-wait=1ms",
    ])
    .await;
}

/// Sends a burst of 200 signed webhooks at once: some must be refused with 503 +
/// Retry-After, and every acknowledged one must reach the exchange.
async fn burst_is_partly_refused_without_losing_acked_runs(args: &[&str]) {
    let server = TestServer::start_with(crate::support::server::Mode::Production, args).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    let (source_id, secret) = github_source(&server).await;
    let client = reqwest::Client::new();
    let verifier = json!({"type": "github"});
    let mut acked = Vec::new();
    // One webhook first, so the writers' pace is known before the burst.
    let body = br#"{"n":"first"}"#.to_vec();
    let mut first = client
        .post(format!("{}/v1/ingress/{source_id}", server.url))
        .body(body.clone());
    for (name, value) in signed(&verifier, &secret, &body, now(), "burst-first") {
        first = first.header(name, value);
    }
    let first = first.send().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: serde_json::Value = first.json().await.unwrap();
    acked.push(first["run_id"].as_str().unwrap().to_owned());
    let mut requests = Vec::new();
    for i in 0..200 {
        let body = format!(r#"{{"n":{i}}}"#).into_bytes();
        let headers = signed(&verifier, &secret, &body, now(), &format!("burst-{i}"));
        let mut request = client
            .post(format!("{}/v1/ingress/{source_id}", server.url))
            .body(body);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        requests.push(request.send());
    }
    let responses = futures_util::future::join_all(requests).await;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::ACCEPTED => {
                let body: serde_json::Value = response.json().await.unwrap();
                acked.push(body["run_id"].as_str().unwrap().to_owned());
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(response.headers().contains_key("retry-after"));
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    println!(
        "burst of 200 ({args:?}): acked={} refused={refused}",
        acked.len()
    );
    assert!(refused > 0, "a burst of 200 must be partly refused");
    let (missing, _) = consumer.await_all(&acked, Duration::from_secs(30)).await;
    assert_eq!(missing, 0);
    server.stop().await.unwrap();
}
