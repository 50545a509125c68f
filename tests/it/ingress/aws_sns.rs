//! Amazon SNS against the running server, with its signing certificate served by a
//! real local HTTP server (`CertificateHost`) that records every request made to it.
//!
//! The host is plain HTTP on 127.0.0.1, allowed by `--sns-certificate-origins` (and the
//! SSRF guard by `--delivery-allow-cidrs`): trusting a test CA for HTTPS would need a
//! trust-root setting production has no use for. The HTTPS-only default is held by the
//! verifier's tables (`verify/tests/aws_sns.rs`, `aws_sns/origins.rs`).

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode as AxumStatus;
use hookgate::verify::{self, AwsSnsConfig, VerifierConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{now, source_body};
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;

in_both_modes!(
    an_sns_notification_starts_a_run_once_and_a_duplicate_message_id_is_answered_duplicate,
    a_subscription_confirmation_is_a_handshake_confirmed_only_with_auto_confirm,
    a_forged_sns_message_is_refused_and_a_certificate_off_the_allowed_origins_never_fetched,
);

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookgate-test";
const PRIVATE_KEY: &str = include_str!("../../vectors/aws_sns.key.pem");
const CERTIFICATE: &str = include_str!("../../vectors/aws_sns.cert.pem");

/// A local host serving the test certificate at `/cert.pem`, 200 to anything else, and
/// remembering every path (and query) asked for.
struct CertificateHost {
    origin: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl CertificateHost {
    async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&requests));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { origin, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `path` was asked for.
    async fn wait_for(&self, path: &str) -> bool {
        for _ in 0..200 {
            if self.requests().iter().any(|p| p.starts_with(path)) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    /// A server whose certificate origins are this host only.
    async fn server(&self, mode: Mode) -> TestServer {
        let origins = format!("--sns-certificate-origins={}", self.origin);
        let server = TestServer::start_with(
            mode,
            &[origins.as_str(), "--delivery-allow-cidrs=127.0.0.0/8"],
        )
        .await;
        server.create_org("acme").await;
        server
    }
}

async fn serve(
    State(requests): State<Arc<Mutex<Vec<String>>>>,
    request: Request,
) -> (AxumStatus, String) {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    requests.lock().unwrap().push(path.clone());
    match path.as_str() {
        "/cert.pem" => (AxumStatus::OK, CERTIFICATE.to_owned()),
        _ => (AxumStatus::OK, "<ConfirmSubscriptionResponse/>".to_owned()),
    }
}

/// A source of org `acme` accepting [`TOPIC`] under `verifier`.
async fn sns_source(server: &TestServer, verifier: Value) -> String {
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(TOPIC)))
        .await;
    source_id
}

/// `message` signed as SNS would, now, with `id` as its MessageId: headers and body.
fn sns_request(message: Value, id: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let config = VerifierConfig::AwsSns(AwsSnsConfig::default());
    let template = serde_json::to_vec(&message).unwrap();
    let at = now();
    let mut headers = verify::sign(&config, PRIVATE_KEY.as_bytes(), &template, "", at, id).unwrap();
    headers.push(("Content-Type".into(), "text/plain; charset=UTF-8".into()));
    let body = verify::sign_body(&config, PRIVATE_KEY.as_bytes(), &template, at, id)
        .unwrap()
        .unwrap();
    (headers, body)
}

fn notification(host: &CertificateHost) -> Value {
    json!({
        "Type": "Notification",
        "TopicArn": TOPIC,
        "Subject": "deploy",
        "Message": "{\"service\":\"api\"}",
        "SigningCertURL": format!("{}/cert.pem", host.origin),
    })
}

async fn an_sns_notification_starts_a_run_once_and_a_duplicate_message_id_is_answered_duplicate(
    mode: Mode,
) {
    let host = CertificateHost::start().await;
    let server = host.server(mode).await;
    let source_id = sns_source(&server, json!({"type": "aws_sns"})).await;
    let (headers, body) = sns_request(notification(&host), "msg-sns-1");
    let reply = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(reply.body["run_id"].is_string(), "{}", reply.body);
    let again = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true, "{}", again.body);
    assert_eq!(again.body["run_id"], reply.body["run_id"]);
    // The second message found the certificate in the cache.
    let fetches = host.requests().iter().filter(|p| *p == "/cert.pem").count();
    assert_eq!(fetches, 1, "{:?}", host.requests());
    server.stop().await.unwrap();
}

async fn a_subscription_confirmation_is_a_handshake_confirmed_only_with_auto_confirm(mode: Mode) {
    let host = CertificateHost::start().await;
    let server = host.server(mode).await;
    for (auto_confirm, token) in [(false, "manual"), (true, "automatic")] {
        let verifier = json!({"type": "aws_sns", "auto_confirm": auto_confirm});
        let source_id = sns_source(&server, verifier).await;
        let subscribe_url = format!("{}/confirm?Token={token}", host.origin);
        let message = json!({
            "Type": "SubscriptionConfirmation",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": subscribe_url,
            "Token": token,
            "SignatureVersion": "2",
            "SigningCertURL": format!("{}/cert.pem", host.origin),
        });
        let (headers, body) = sns_request(message, &format!("msg-confirm-{token}"));
        let reply = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, json!({"status": "handshake"}));
        let listed = server
            .get(&format!("/v1/sources/{source_id}/events"), OPERATOR_TOKEN)
            .await;
        let rows = listed.body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", listed.body);
        assert_eq!(rows[0]["status"], "handshake", "{}", listed.body);
        assert!(rows[0]["run_id"].is_null(), "{}", listed.body);
        if auto_confirm {
            let wanted = format!("/confirm?Token={token}");
            assert!(
                host.wait_for(&wanted).await,
                "not confirmed: {:?}",
                host.requests()
            );
        }
    }
    // The source without auto_confirm never called its SubscribeURL.
    assert!(
        !host.requests().iter().any(|p| p.contains("Token=manual")),
        "{:?}",
        host.requests()
    );
    server.stop().await.unwrap();
}

async fn a_forged_sns_message_is_refused_and_a_certificate_off_the_allowed_origins_never_fetched(
    mode: Mode,
) {
    let host = CertificateHost::start().await;
    let elsewhere = CertificateHost::start().await;
    let server = host.server(mode).await;
    let source_id = sns_source(&server, json!({"type": "aws_sns"})).await;
    // Genuinely signed, then its message changed: fetched, and refused for the signature.
    let (headers, body) = sns_request(notification(&host), "msg-forged");
    let mut forged: Value = serde_json::from_slice(&body).unwrap();
    forged["Message"] = json!("{\"service\":\"evil\"}");
    let reply = server
        .send_webhook(&source_id, &headers, &serde_json::to_vec(&forged).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.error_code(), "signature_invalid", "{}", reply.body);
    // A certificate on a host that is not an allowed origin: refused, never fetched.
    let mut message = notification(&host);
    message["SigningCertURL"] = json!(format!("{}/cert.pem", elsewhere.origin));
    let (headers, body) = sns_request(message, "msg-elsewhere");
    let reply = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(
        reply.error_code(),
        "certificate_url_refused",
        "{}",
        reply.body
    );
    // Another topic: refused before any fetch.
    let mut message = notification(&elsewhere);
    message["TopicArn"] = json!("arn:aws:sns:us-east-1:123456789012:someone-elses");
    let (headers, body) = sns_request(message, "msg-other-topic");
    let reply = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(reply.error_code(), "topic_not_accepted", "{}", reply.body);
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
    // An allowed origin with no certificate there: the host refused it, 401.
    let mut message = notification(&host);
    message["SigningCertURL"] = json!(format!("{}/missing.pem", host.origin));
    let (headers, body) = sns_request(message, "msg-missing");
    let reply = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.error_code(), "certificate_invalid", "{}", reply.body);
    server.stop().await.unwrap();
}
