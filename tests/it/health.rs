//! Health, readiness (with real outages through a TCP proxy) and metrics.

use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TcpProxy, TestServer};
use reqwest::{Method, StatusCode};
use std::time::Duration;

in_both_modes!(
    ready_when_store_and_broker_answer,
    metrics_count_requests_by_route,
    metrics_answer_the_format_asked_for_and_promtool_accepts_the_classic_one,
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

async fn scrape(server: &TestServer, accept: Option<&str>) -> (String, String) {
    let mut request = server.client().get(format!("{}/metrics", server.url));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

async fn metrics_answer_the_format_asked_for_and_promtool_accepts_the_classic_one(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let (content_type, classic) = scrape(&server, Some("text/plain; version=0.0.4")).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(!classic.contains("# EOF"));
    assert!(
        classic.contains("# HELP hookgate_http_requests_total "),
        "{classic}"
    );
    assert!(
        classic.contains("# TYPE hookgate_build_info gauge"),
        "{classic}"
    );
    assert!(
        classic.contains("hookgate_build_info{version=\""),
        "{classic}"
    );
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            classic.contains(&format!("\n{family} ")),
            "{family}:\n{classic}"
        );
    }
    assert_eq!(
        scrape(&server, None).await.0,
        content_type,
        "the classic format by default"
    );

    let (content_type, openmetrics) = scrape(
        &server,
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    )
    .await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");

    // promtool (Debian's `prometheus`, installed by scripts/test) lints the classic text.
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is missing: run scripts/test, which installs it");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(classic.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
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

/// `--metrics-listen`: the scraper's own address serves `/metrics` (and nothing else),
/// and the public listener no longer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_serves_metrics_apart_from_the_public_listener() {
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let flag = format!("--metrics-listen={address}");
    let server = TestServer::embedded_with(&[&flag]).await;
    server.create_org("acme").await;
    let scraped = server
        .client()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains(
            r#"hookgate_http_requests_total{route="/v1/orgs",method="POST",status="201"} 1"#
        ),
        "{text}"
    );
    let public = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND, "{}", public.body);
    let other = server
        .client()
        .get(format!("http://{address}/v1/orgs"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "only /metrics there");
    server.stop().await.unwrap();
}
