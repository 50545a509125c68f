//! Requests signed by the senders' own libraries (tests/senders/sign.py, run in the
//! venv scripts/test builds) are accepted by the running server.

use super::source_body;
use crate::in_both_modes;
use crate::support::server::Mode;
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

in_both_modes!(requests_signed_by_official_sender_libraries_are_accepted);

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/senders-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test, which installs the senders' libraries",
        venv.display()
    );
    venv
}

fn sign_with_official_library(
    scheme: &str,
    secret: &str,
    body: &[u8],
    msg_id: &str,
) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/senders/sign.py");
    let output = Command::new(python())
        .arg(script)
        .args([scheme, secret, body_file.to_str().unwrap(), msg_id])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();
    headers
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect()
}

async fn requests_signed_by_official_sender_libraries_are_accepted(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let body = br#"{"id":"evt_1NGy","type":"customer.created","event_id":"Ev1","event":{"type":"app_mention"},"data":{"ok":true}}"#;
    let cases = [
        ("stripe", "stripe", "whsec_test_secret_for_hookgate"),
        (
            "standard_webhooks",
            "standard_webhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        (
            "svix",
            "standard_webhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("slack", "slack", "8f742231b10e8888abcd99yyyzzz85a5"),
        ("github", "github", "It's a Secret to Everybody"),
        ("shopify", "shopify", "test_secret_key"),
        (
            "paddle",
            "paddle",
            "pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI",
        ),
    ];
    for (scheme, verifier, secret) in cases {
        let verifier = match verifier {
            // Paddle's own 5 s window would make a busy test machine's slow start of
            // the signing script a failure; the window itself is tested by tables.
            "paddle" => json!({"type": "paddle", "tolerance_s": 60}),
            other => json!({"type": other}),
        };
        let (source_id, _) = server
            .create_source("acme", source_body(&verifier, Some(secret)))
            .await;
        let headers = sign_with_official_library(scheme, secret, body, &format!("msg_{scheme}"));
        let reply = server.send_webhook(&source_id, &headers, body).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{scheme}: {}",
            reply.body
        );

        let replay = server.send_webhook(&source_id, &headers, body).await;
        assert_eq!(replay.body["duplicate"], true, "{scheme}: {}", replay.body);

        let mut tampered = body.to_vec();
        tampered.extend_from_slice(b"\n");
        if scheme != "bearer" {
            // A bearer token does not cover the body.
            let refused = server.send_webhook(&source_id, &headers, &tampered).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{scheme}");
        }
    }
    server.stop().await.unwrap();
}
