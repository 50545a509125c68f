//! Execution hooks end to end (SPEC §6): endpoints, run events, signed deliveries,
//! retries, the attempt log, isolation and the SSRF guard.

pub mod amqp;
mod delivery;
mod guard;
mod intake;

use crate::support::server::OPERATOR_TOKEN;
use crate::support::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Lets deliveries reach the test receivers on loopback.
pub const ALLOW_LOOPBACK: &str = "--delivery-allow-cidrs=127.0.0.1/32";

/// Creates the org `acme` unless it exists.
pub async fn acme(server: &TestServer) {
    let _ = server
        .post(
            "/v1/orgs",
            OPERATOR_TOKEN,
            json!({"slug": "acme", "name": "Acme"}),
        )
        .await;
}

/// Creates an endpoint in `acme` (creating the org if needed); returns (id, secret).
pub async fn endpoint(server: &TestServer, url: &str, extra: Value) -> (String, String) {
    acme(server).await;
    let mut body = json!({"url": url, "retry_schedule": "0s,200ms,200ms,200ms"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let reply = server
        .post("/v1/orgs/acme/endpoints", OPERATOR_TOKEN, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let secret = reply.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (
        reply.body["endpoint"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

pub async fn publish(server: &TestServer, event: Value) -> Value {
    let reply = server
        .post("/v1/orgs/acme/events", OPERATOR_TOKEN, event)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

/// The org's deliveries of `endpoint_id`.
pub async fn deliveries(server: &TestServer, endpoint_id: &str) -> Vec<Value> {
    let reply = server
        .get(
            &format!("/v1/orgs/acme/deliveries?endpoint_id={endpoint_id}"),
            OPERATOR_TOKEN,
        )
        .await;
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

/// Polls the delivery until its status is `status`; returns it with its attempts.
pub async fn await_status(server: &TestServer, delivery_id: &str, status: &str) -> Value {
    let path = format!("/v1/deliveries/{delivery_id}");
    let mut last = Value::Null;
    for _ in 0..200 {
        last = server.get(&path, OPERATOR_TOKEN).await.body;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery never became {status}: {last}");
}

pub async fn patch(server: &TestServer, path: &str, body: Value) -> Value {
    server
        .call(Method::PATCH, path, Some(OPERATOR_TOKEN), Some(body))
        .await
        .body
}
