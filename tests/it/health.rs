//! Health, readiness (with real outages through a TCP proxy) and metrics.

use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TcpProxy, TestServer};
use reqwest::{Method, StatusCode};
use std::time::Duration;

in_both_modes!(
    ready_when_store_and_broker_answer,
    metrics_count_requests_by_route
);

async fn ready_when_store_and_broker_answer(mode: Mode) {
    let server = TestServer::start(mode).await;
    let health = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["store"], "ok");
    assert_eq!(ready.body["broker"], "ok");
    server.stop().await.unwrap();
}

async fn metrics_count_requests_by_route(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    server.get("/v1/orgs/acme", OPERATOR_TOKEN).await;
    let metrics = server.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(
            r#"hookgate_http_requests_total{route="/v1/orgs/{org}",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"hookgate_http_request_duration_seconds_count{route="/v1/orgs",method="POST"} 1"#
        ),
        "{text}"
    );
    server.stop().await.unwrap();
}

async fn readiness(server: &TestServer) -> (StatusCode, serde_json::Value) {
    let reply = server.call(Method::GET, "/readyz", None, None).await;
    (reply.status, reply.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_broker_while_it_is_unreachable_and_recovers_without_restart() {
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let server = TestServer::production(&format!("amqp://guest:guest@{}/%2f", proxy.addr())).await;
    assert_eq!(readiness(&server).await.0, StatusCode::OK);

    proxy.cut();
    let (status, body) = readiness(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["message"], "not ready: broker unreachable");
    assert_eq!(body["error"]["details"]["broker"], "unreachable");
    assert_eq!(body["error"]["details"]["store"], "ok");

    proxy.restore();
    assert!(
        eventually(Duration::from_secs(10), || async {
            readiness(&server).await.0 == StatusCode::OK
        })
        .await
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_api_answer_503_while_the_store_is_unreachable_and_recover() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let url = crate::support::postgres_url().await;
    let proxied = url.replace("127.0.0.1:5432", &proxy.addr().to_string());
    let server = TestServer::production_with_database(&proxied, crate::support::AMQP_URL).await;
    server.create_org("acme").await;

    proxy.cut();
    let (status, body) = readiness(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["details"]["store"], "unreachable");
    let api = server.get("/v1/orgs/acme", OPERATOR_TOKEN).await;
    assert_eq!(
        (api.status, api.error_code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(api.headers.contains_key("retry-after"));

    proxy.restore();
    assert!(
        eventually(Duration::from_secs(10), || async {
            readiness(&server).await.0 == StatusCode::OK
        })
        .await
    );
    assert_eq!(
        server.get("/v1/orgs/acme", OPERATOR_TOKEN).await.status,
        StatusCode::OK
    );
    server.stop().await.unwrap();
}
