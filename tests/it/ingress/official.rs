//! Requests signed by the senders' own libraries (tests/senders/sign.py, run in the
//! venv scripts/test builds) are accepted by the running server.

use super::source_body;
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

in_both_modes!(
    requests_signed_by_official_sender_libraries_are_accepted,
    url_and_public_key_senders_requests_signed_by_their_libraries_are_accepted,
    discord_ping_is_answered_with_a_pong_and_starts_no_run,
    a_public_key_is_rotated_with_grace_but_never_generated,
);

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
    sign_for_url(scheme, secret, body, msg_id, "")
}

/// [`sign_with_official_library`] for a request to `url`, which some senders sign.
fn sign_for_url(
    scheme: &str,
    secret: &str,
    body: &[u8],
    msg_id: &str,
    url: &str,
) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/senders/sign.py");
    let output = Command::new(python())
        .arg(script)
        .args([scheme, secret, body_file.to_str().unwrap(), msg_id])
        .args((!url.is_empty()).then_some(url))
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

/// Discord's and SendGrid's test key pairs: (private key for the signer, public key
/// given to hookgate as the source's secret).
const DISCORD_KEYS: (&str, &str) = (
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
);
const SENDGRID_KEYS: (&str, &str) = (
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHy49TFtqeYgfLj1MW2p5iB8uPUxbanmIHy49TFtqeYihRANCAAS9fHO4iy6bTO2mICKy2ovhMZOltW7cJuffeELiTNC16wYFrae9qDrGorgNfjFAQPpH/xa4O6yFztsBRFG7fOca",
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvXxzuIsum0ztpiAistqL4TGTpbVu3Cbn33hC4kzQtesGBa2nvag6xqK4DX4xQED6R/8WuDushc7bAURRu3znGg==",
);

async fn post(
    server: &TestServer,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (StatusCode, String) {
    let mut request = server.client().post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn url_and_public_key_senders_requests_signed_by_their_libraries_are_accepted(mode: Mode) {
    use sha2::Digest;
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let json = br#"{"type":"payment.created","event_id":"ev-1","data":{"ok":true}}"#;
    let form = b"CallSid=CA1234567890ABCDE&From=%2B12349013030&Body=hello+there";
    let body_sha = hex::encode(sha2::Sha256::digest(json));
    // (verifier and library, source secret, signing key, body, query of the called URL)
    let cases: [(&str, &str, &str, &[u8], String); 6] = [
        (
            "twilio",
            "auth-token-1",
            "auth-token-1",
            form,
            String::new(),
        ),
        (
            "twilio",
            "auth-token-1",
            "auth-token-1",
            json,
            format!("bodySHA256={body_sha}"),
        ),
        (
            "hubspot",
            "client-secret-1",
            "client-secret-1",
            json,
            "portal=1".into(),
        ),
        (
            "square",
            "square-signature-key",
            "square-signature-key",
            json,
            String::new(),
        ),
        (
            "discord",
            DISCORD_KEYS.1,
            DISCORD_KEYS.0,
            json,
            String::new(),
        ),
        (
            "sendgrid",
            SENDGRID_KEYS.1,
            SENDGRID_KEYS.0,
            json,
            String::new(),
        ),
    ];
    for (scheme, secret, signing, body, query) in cases {
        let verifier = scheme;
        let (source_id, _) = server
            .create_source(
                "acme",
                source_body(&json!({"type": verifier}), Some(secret)),
            )
            .await;
        let ingress = format!("{}/v1/ingress/{source_id}", server.url);
        let url = match query.as_str() {
            "" => ingress.clone(),
            query => format!("{ingress}?{query}"),
        };
        let headers = sign_for_url(scheme, signing, body, &format!("msg_{scheme}"), &url);
        let (status, reply) = post(&server, &url, &headers, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{scheme} {query:?}: {reply}");

        let mut tampered = body.to_vec();
        tampered.extend_from_slice(b"&x=1");
        let (status, _) = post(&server, &url, &headers, &tampered).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: tampered body");
        if verifier == "twilio" || verifier == "hubspot" || verifier == "square" {
            // The URL is signed: the same request on another query is refused.
            let elsewhere = format!("{ingress}?other=1");
            let (status, _) = post(&server, &elsewhere, &headers, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: other URL");
        }
    }
    server.stop().await.unwrap();
}

async fn discord_ping_is_answered_with_a_pong_and_starts_no_run(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    // The sender's public key cannot be made by hookgate: it must be given.
    let missing = server
        .post(
            "/v1/orgs/acme/sources",
            OPERATOR_TOKEN,
            source_body(&json!({"type": "discord"}), None),
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        missing.body
    );
    assert_eq!(
        missing.body["error"]["details"]["field"], "secret",
        "{}",
        missing.body
    );
    let (source_id, _) = server
        .create_source(
            "acme",
            source_body(&json!({"type": "discord"}), Some(DISCORD_KEYS.1)),
        )
        .await;
    let ping = br#"{"application_id":"11","id":"786008729715212339","type":1,"version":1}"#;
    let headers = sign_with_official_library("discord", DISCORD_KEYS.0, ping, "unused");
    let reply = server.send_webhook(&source_id, &headers, ping).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"type": 1}));
    // Recorded as a handshake, with no run.
    let listed = server
        .get(&format!("/v1/sources/{source_id}/events"), OPERATOR_TOKEN)
        .await;
    let rows = listed.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", listed.body);
    assert_eq!(rows[0]["status"], "handshake", "{}", listed.body);
    assert!(rows[0]["run_id"].is_null(), "{}", listed.body);
    server.stop().await.unwrap();
}

async fn a_public_key_is_rotated_with_grace_but_never_generated(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let (source_id, _) = server
        .create_source(
            "acme",
            source_body(&json!({"type": "discord"}), Some(DISCORD_KEYS.1)),
        )
        .await;
    let path = format!("/v1/sources/{source_id}/secrets/rotate");
    let rotate = |body| server.post(&path, OPERATOR_TOKEN, body);
    let generated = rotate(json!({"grace_period_s": 60})).await;
    assert_eq!(
        generated.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        generated.body
    );
    let not_a_key = rotate(json!({"secret": "not-a-key"})).await;
    assert_eq!(
        not_a_key.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_a_key.body
    );
    assert!(
        !not_a_key.body.to_string().contains("not-a-key"),
        "{}",
        not_a_key.body
    );
    // RFC 8032 §7.1 test 2's pair: the application's new key.
    let new = (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    );
    let rotated = rotate(json!({"grace_period_s": 60, "secret": new.1})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    for (private, id) in [(DISCORD_KEYS.0, "old key in grace"), (new.0, "new key")] {
        let body = json!({"id": id, "type": 2}).to_string();
        let body = body.as_bytes();
        let label = id;
        let headers = sign_with_official_library("discord", private, body, "unused");
        let reply = server.send_webhook(&source_id, &headers, body).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{label}: {}",
            reply.body
        );
    }
    server.stop().await.unwrap();
}
