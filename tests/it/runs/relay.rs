//! Accepted runs reach the exchange exactly as SPEC §4 describes.

use super::{github_source, send_load};
use crate::ingress::{now, signed};
use crate::support::consumer::RunsConsumer;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TcpProxy, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_webhook_is_published_with_routing_key_headers_and_body() {
    let server = TestServer::start(Mode::Production).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    let (source_id, secret) = github_source(&server).await;
    let body = br#"{"ref":"refs/heads/main","zen":"Practicality beats purity."}"#;
    let mut headers = signed(
        &json!({"type": "github"}),
        &secret,
        body,
        now(),
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    );
    headers.push((
        "traceparent".into(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    ));
    let receipt = server.send_webhook(&source_id, &headers, body).await;
    assert_eq!(receipt.status, StatusCode::ACCEPTED);
    let run_id = receipt.body["run_id"].as_str().unwrap();

    let message = consumer
        .next(Duration::from_secs(10))
        .await
        .expect("published");
    assert_eq!(message.message_id, run_id);
    assert_eq!(message.routing_key, "run.requested.wf_deploy");
    assert!(message.persistent);
    assert_eq!(message.headers["hookgate-org"], "acme");
    assert_eq!(message.headers["hookgate-source"], source_id);
    let trace = &message.headers["traceparent"];
    assert!(
        trace.starts_with("00-0af7651916cd43dd8448eb211c80319c-")
            && !trace.contains("b7ad6b7169203331"),
        "{trace}"
    );
    let body = &message.body;
    assert_eq!(body["run_id"], run_id);
    assert_eq!(body["org"], "acme");
    assert_eq!(body["workflow_id"], "wf_deploy");
    assert_eq!(body["trigger"]["type"], "webhook");
    assert_eq!(body["trigger"]["source_id"], source_id.as_str());
    assert_eq!(body["trigger"]["verifier"], "github");
    assert_eq!(body["trigger"]["event_id"], receipt.body["event_id"]);
    assert_eq!(body["input"]["zen"], "Practicality beats purity.");
    assert_eq!(body["headers"]["x-github-event"], "push");
    assert!(body["headers"].get("x-hub-signature-256").is_none());
    crate::runs::trigger::assert_matches_documented_schema(body);

    let published = eventually(Duration::from_secs(5), || async {
        server
            .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
            .await
            .body["status"]
            == "published"
    })
    .await;
    assert!(published);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_runs_are_published_to_the_in_process_queue_and_stay_readable() {
    let server = TestServer::start(Mode::Embedded).await;
    let (source_id, secret) = github_source(&server).await;
    let run_ids = send_load(&server.url, &source_id, &secret, 20, 4).await;
    assert_eq!(run_ids.len(), 20);
    for run_id in &run_ids {
        let path = format!("/v1/runs/{run_id}");
        let published = eventually(Duration::from_secs(5), || async {
            server.get(&path, OPERATOR_TOKEN).await.body["status"] == "published"
        })
        .await;
        assert!(published, "{run_id}");
    }
    let listed = server
        .get(
            "/v1/orgs/acme/runs?status=published&workflow_id=wf_deploy&limit=50",
            OPERATOR_TOKEN,
        )
        .await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        20,
        "{}",
        listed.body
    );
    server.stop().await.unwrap();
}

async fn metric(server: &TestServer, name: &str) -> f64 {
    let text = server.call(Method::GET, "/metrics", None, None).await.body;
    text.as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_metrics_and_readiness_follow_a_broker_outage() {
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let server = TestServer::production(&format!("amqp://guest:guest@{}/%2f", proxy.addr())).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    let (source_id, secret) = github_source(&server).await;
    proxy.cut();

    let run_ids = send_load(&server.url, &source_id, &secret, 30, 4).await;
    assert_eq!(
        run_ids.len(),
        30,
        "ingress keeps answering 202 while the broker is down"
    );
    let backlog_seen = eventually(Duration::from_secs(10), || async {
        metric(&server, "hookgate_outbox_backlog").await == 30.0
    })
    .await;
    assert!(backlog_seen, "backlog gauge shows the waiting runs");
    assert!(metric(&server, "hookgate_outbox_oldest_age_seconds").await > 0.0);
    let ready = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["error"]["details"]["broker"], "unreachable");
    assert_eq!(ready.body["error"]["details"]["outbox_backlog"], 30);

    proxy.restore();
    let (missing, _) = consumer.await_all(&run_ids, Duration::from_secs(30)).await;
    assert_eq!(missing, 0);
    let drained = eventually(Duration::from_secs(10), || async {
        metric(&server, "hookgate_outbox_backlog").await == 0.0
    })
    .await;
    assert!(drained, "backlog gauge returns to zero");
    assert!(metric(&server, "hookgate_relay_published_total").await >= 30.0);
    server.stop().await.unwrap();
}
