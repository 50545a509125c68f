//! The console in Chromium (tests/console/browser.py, Playwright): sign-in and out,
//! each page with data made through the REST API, keyboard focus, a phone-width
//! screen, relative times, no console errors and no request leaving the origin, and a
//! failed delivery retried from its page, and a read-only key whose forged form is
//! refused.

use crate::ingress::{signed, source_body};
use crate::support::server::OPERATOR_TOKEN;
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_works_in_chromium_for_the_operator_and_a_read_only_key() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/senders-venv/bin/python");
    assert!(
        python.exists() && PathBuf::from("/usr/bin/chromium").exists(),
        "run scripts/test: it installs the test venv (Playwright) and Debian's chromium"
    );
    let server = TestServer::embedded_with(&[crate::hooks::ALLOW_LOOPBACK]).await;
    // The product backend: its first delivery fails (500), so the tour can retry it.
    let backend = crate::support::receiver::TestReceiver::start().await;
    backend.answer(&[500]);
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let secret = "console-browser-secret-0123456789";
    let mut source = source_body(&verifier, Some(secret));
    source["name"] = json!("console-source");
    let (source_id, _) = server.create_source("acme", source).await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let now = chrono::Utc::now().timestamp();
    let delivery_id = "5b0f7c1e-0000-4000-8000-00000000b00c";
    let accepted = server
        .send_webhook(
            &source_id,
            &signed(&verifier, secret, body, now, delivery_id),
            body,
        )
        .await;
    assert!(accepted.status.is_success(), "{}", accepted.body);
    let forged = signed(
        &verifier,
        "not-the-secret",
        body,
        now,
        "5b0f7c1e-0000-4000-8000-0000000000aa",
    );
    assert_eq!(
        server.send_webhook(&source_id, &forged, body).await.status,
        StatusCode::UNAUTHORIZED
    );
    let read_only_key = server.mint_key("acme", &["source:read"]).await;
    let created = server
        .post(
            "/v1/orgs/acme/endpoints",
            OPERATOR_TOKEN,
            json!({"url": backend.url, "description": "product backend", "retry_schedule": "0s"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let given = json!({
        "base": server.url,
        "operator_token": OPERATOR_TOKEN,
        "read_only_key": read_only_key,
        "org": "acme",
        "source_id": source_id,
        "event_id": accepted.body["event_id"],
        "run_id": accepted.body["run"]["id"],
        "endpoint_id": created.body["endpoint"]["id"],
        "delivery_id": delivery_id,
        "secret": secret,
    });
    let mut command = Command::new(python);
    command.arg(root.join("tests/console/browser.py"));
    if let Ok(dir) = std::env::var("HOOKGATE_CONSOLE_SCREENSHOTS") {
        command.args(["--screenshots", &dir]);
    }
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(given.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await.unwrap();
}
