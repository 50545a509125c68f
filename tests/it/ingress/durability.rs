//! A 202 is a promise: killing the process right after it loses nothing.

use super::{now, signed, source_body};
use crate::support::process::ServerProcess;
use crate::support::server::{MASTER_KEY, OPERATOR_TOKEN};
use serde_json::{json, Value};

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(OPERATOR_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn accepted_webhooks_survive_sigkill(args: Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = ServerProcess::start(dir.path(), &args);
    let post = reqwest::Method::POST;
    call(
        &client,
        post.clone(),
        format!("{}/v1/orgs", server.url),
        Some(json!({"slug": "acme", "name": "Acme"})),
    )
    .await;
    let verifier = json!({"type": "github"});
    let (_, created) = call(
        &client,
        post,
        format!("{}/v1/orgs/acme/sources", server.url),
        Some(source_body(&verifier, None)),
    )
    .await;
    let source_id = created["source"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();

    let body = br#"{"ref":"refs/heads/main"}"#;
    let headers = signed(&verifier, &secret, body, now(), "delivery-before-crash");
    let mut request = client
        .post(format!("{}/v1/ingress/{source_id}", server.url))
        .body(body.to_vec());
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202);
    let receipt: Value = response.json().await.unwrap();
    server.crash();

    let server = ServerProcess::start(dir.path(), &args);
    let run_id = receipt["run_id"].as_str().unwrap();
    let (status, run) = call(
        &client,
        reqwest::Method::GET,
        format!("{}/v1/runs/{run_id}", server.url),
        None,
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert!(
        ["queued", "published"].contains(&run["status"].as_str().unwrap()),
        "{run}"
    );
    assert_eq!(run["trigger"]["event_id"], receipt["event_id"]);
    // The event is durable too: the sender's retry is recognised as a duplicate.
    let mut retry = client
        .post(format!("{}/v1/ingress/{source_id}", server.url))
        .body(body.to_vec());
    for (name, value) in &headers {
        retry = retry.header(name, value);
    }
    let again: Value = retry.send().await.unwrap().json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["run_id"], receipt["run_id"]);
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_loses_nothing_accepted_before_sigkill() {
    accepted_webhooks_survive_sigkill(vec![format!("--operator-token={OPERATOR_TOKEN}")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_loses_nothing_accepted_before_sigkill() {
    let prefix = crate::support::amqp_prefix();
    accepted_webhooks_survive_sigkill(vec![
        format!("--database-url={}", crate::support::postgres_url().await),
        format!("--amqp-url={}", crate::support::AMQP_URL),
        format!("--amqp-exchange-prefix={prefix}"),
        "--amqp-queue-type=classic".to_owned(),
        format!("--operator-token={OPERATOR_TOKEN}"),
        format!("--master-key={MASTER_KEY}"),
    ])
    .await;
    crate::support::server::delete_exchanges(&prefix).await;
}
