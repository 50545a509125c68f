//! Runs to RabbitMQ (SPEC §4): relay, trigger API, and the fault tests.

mod consumer;
mod faults;
mod relay;
mod timeline;
pub mod trigger;

use crate::ingress::{now, signed, source_body};
use crate::support::TestServer;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

/// A GitHub source on `server` in org `acme` (created if needed); returns (id, secret).
pub async fn github_source(server: &TestServer) -> (String, String) {
    let _ = server
        .post(
            "/v1/orgs",
            crate::support::server::OPERATOR_TOKEN,
            json!({"slug": "acme", "name": "Acme"}),
        )
        .await;
    server
        .create_source("acme", source_body(&json!({"type": "github"}), None))
        .await
}

/// Sends `n` signed GitHub webhooks, `concurrency` at a time, to `base_url`; returns
/// the run ids of those acknowledged with 202.
pub async fn send_load(
    base_url: &str,
    source_id: &str,
    secret: &str,
    n: usize,
    concurrency: usize,
) -> Vec<String> {
    send_load_with_retries(base_url, source_id, secret, n, concurrency, 1).await
}

/// As [`send_load`], but a request answered 503 (ingress shedding, e.g. on a starved
/// test machine) is sent again after 100 ms, up to `attempts` times in all, as senders
/// do: for tests whose point is that no acked run is lost, not that nothing is shed.
pub async fn send_load_with_retries(
    base_url: &str,
    source_id: &str,
    secret: &str,
    n: usize,
    concurrency: usize,
    attempts: usize,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let verifier = json!({"type": "github"});
    let tag = crate::support::unique_suffix();
    let url = format!("{base_url}/v1/ingress/{source_id}");
    stream::iter(0..n)
        .map(|i| {
            let body = format!(r#"{{"ref":"refs/heads/main","n":{i}}}"#).into_bytes();
            let headers = signed(&verifier, secret, &body, now(), &format!("load-{tag}-{i}"));
            let (client, url) = (client.clone(), url.clone());
            async move {
                for _ in 0..attempts {
                    let mut request = client.post(&url).body(body.clone());
                    for (name, value) in &headers {
                        request = request.header(name, value);
                    }
                    let response = request.send().await.ok()?;
                    match response.status() {
                        reqwest::StatusCode::ACCEPTED => {
                            let receipt: serde_json::Value = response.json().await.ok()?;
                            return receipt["run_id"].as_str().map(str::to_owned);
                        }
                        reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        _ => return None,
                    }
                }
                None
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|run_id| async move { run_id })
        .collect()
        .await
}
