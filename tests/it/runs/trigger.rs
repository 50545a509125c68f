//! The direct trigger API (SPEC §4) and the documented message schema.

use crate::in_both_modes;
use crate::support::consumer::RunsConsumer;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

in_both_modes!(trigger_api_is_idempotent_per_key_and_enforces_its_scope);

/// Validates `message` against docs/run-requested.schema.json with the Python
/// `jsonschema` package from the test venv.
pub fn assert_matches_documented_schema(message: &Value) {
    assert_matches_schema(message, "docs/run-requested.schema.json");
}

/// Validates `message` against a JSON schema under the repository root.
pub fn assert_matches_schema(message: &Value, schema: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/senders-venv/bin/python");
    assert!(
        python.exists(),
        "run scripts/test: it installs the test venv"
    );
    let mut child = Command::new(python)
        .arg(root.join("tests/senders/validate_schema.py"))
        .arg(root.join(schema))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{message}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn trigger(
    server: &TestServer,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value, bool) {
    let mut request = server
        .client()
        .post(format!(
            "{}/v1/orgs/acme/workflows/wf_report/runs",
            server.url
        ))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, response.json().await.unwrap(), replayed)
}

async fn trigger_api_is_idempotent_per_key_and_enforces_its_scope(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let key = server.mint_key("acme", &["run:trigger", "run:read"]).await;
    let (status, first, replayed) = trigger(
        &server,
        &key,
        Some("order-42"),
        json!({"input": {"order": 42}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["run"]["status"], "queued");
    assert!(!replayed);
    let run_id = first["run"]["id"].as_str().unwrap();

    // Same key, same JSON (other spacing/order): the same run.
    let (status, again, replayed) = trigger(
        &server,
        &key,
        Some("order-42"),
        json!({"input": {"order": 42}}),
    )
    .await;
    assert_eq!(
        (status, again["run"]["id"].as_str(), replayed),
        (StatusCode::CREATED, Some(run_id), true)
    );
    let (status, reused, _) = trigger(
        &server,
        &key,
        Some("order-42"),
        json!({"input": {"order": 43}}),
    )
    .await;
    assert_eq!(
        (status, reused["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );

    let (status, other, _) = trigger(&server, &key, None, json!({"input": [1, 2]})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(other["run"]["id"], first["run"]["id"]);
    let (status, bad, _) = trigger(&server, &key, None, json!({"inptu": 1})).await;
    assert_eq!(
        (status, bad["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("inptu"))
    );

    let reader = server.mint_key("acme", &["run:read"]).await;
    let (status, denied, _) = trigger(&server, &reader, None, json!({"input": {}})).await;
    assert_eq!(
        (status, denied["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("scope_denied"))
    );

    let run = server.get(&format!("/v1/runs/{run_id}"), &reader).await;
    assert_eq!(run.body["trigger"]["type"], "api");
    assert_eq!(run.body["workflow_id"], "wf_report");
    let listed = server
        .get("/v1/orgs/acme/runs?workflow_id=wf_report", &reader)
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let none = server
        .get("/v1/orgs/acme/runs?workflow_id=other", OPERATOR_TOKEN)
        .await;
    assert!(none.body["data"].as_array().unwrap().is_empty());
    let bad_status = server
        .get("/v1/orgs/acme/runs?status=exploded", OPERATOR_TOKEN)
        .await;
    assert_eq!(bad_status.body["error"]["details"]["field"], "status");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggered_run_message_matches_the_documented_schema() {
    let server = TestServer::start(Mode::Production).await;
    let mut consumer = RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await;
    server.create_org("acme").await;
    let (status, created, _) = trigger(
        &server,
        OPERATOR_TOKEN,
        None,
        json!({"input": {"report": "weekly"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let message = consumer
        .next(Duration::from_secs(10))
        .await
        .expect("published");
    assert_eq!(message.message_id, created["run"]["id"].as_str().unwrap());
    assert_eq!(message.routing_key, "run.requested.wf_report");
    assert_eq!(message.body["trigger"]["type"], "api");
    assert_eq!(message.body["input"], json!({"report": "weekly"}));
    assert!(!message.headers.contains_key("hookgate-source"));
    assert_matches_documented_schema(&message.body);
    server.stop().await.unwrap();
}
