//! The operator CLI for execution hooks (SPEC §6, §9): `endpoints`, `deliveries` and
//! `events` run as the built binary against the real server, delivering to a
//! [`TestReceiver`] on loopback.

use crate::cli::{hookgate, Run};
use crate::hooks::ALLOW_LOOPBACK;
use crate::support::receiver::{Received, TestReceiver};
use crate::support::{eventually, TestServer};
use hookgate::verify::{verify, SecretCandidate, VerifierConfig};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn server_with_org() -> TestServer {
    let server = TestServer::embedded_with(&[ALLOW_LOOPBACK]).await;
    hookgate(&server, &["orgs", "create", "acme"]).await.ok();
    server
}

/// Creates an endpoint at `url` through the CLI with quick retries (or the given
/// schedule); returns (id, secret).
async fn endpoint(server: &TestServer, url: &str, schedule: &str) -> (String, String) {
    let args = [
        "endpoints",
        "create",
        "--org",
        "acme",
        "--endpoint-url",
        url,
        "--retry-schedule",
        schedule,
    ];
    let created = hookgate(server, &args).await.ok();
    assert_eq!(created.field("url"), url);
    (created.field("endpoint"), created.field("secret"))
}

/// `hookgate <args> --json`, parsed.
async fn json(server: &TestServer, args: &[&str]) -> Value {
    let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    hookgate(server, &args).await.ok().json()
}

/// The one delivery to `endpoint_id`, found through `deliveries list`.
async fn only_delivery(server: &TestServer, endpoint_id: &str) -> String {
    let args = [
        "deliveries",
        "list",
        "--org",
        "acme",
        "--endpoint",
        endpoint_id,
    ];
    let list = json(server, &args).await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{list}");
    data[0]["id"].as_str().unwrap().to_owned()
}

/// Polls `deliveries show --json` until the delivery is `status`; returns it.
async fn await_status(server: &TestServer, delivery_id: &str, status: &str) -> Value {
    let args = ["deliveries", "show", delivery_id];
    let reached = eventually(WAIT, || async {
        json(server, &args).await["status"] == status
    })
    .await;
    let shown = json(server, &args).await;
    assert!(reached, "delivery never became {status}: {shown}");
    shown
}

/// How many of the org's deliveries are in `status`.
async fn count(server: &TestServer, status: &str) -> usize {
    let args = ["deliveries", "list", "--org", "acme", "--status", status];
    json(server, &args).await["data"].as_array().unwrap().len()
}

/// (attempt, status, error) of each row of the attempt table `deliveries show` prints.
fn attempt_rows(shown: &Run) -> Vec<(String, String, String)> {
    shown
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("ATTEMPT "))
        .skip(1)
        .map(|line| {
            // attempt, started (date and time), duration, status, error, next attempt
            let words: Vec<&str> = line.split_whitespace().collect();
            (words[0].into(), words[4].into(), words[5].into())
        })
        .collect()
}

/// Whether hookgate's Standard Webhooks verifier (checked against the official
/// libraries elsewhere) accepts `received` as signed with `secret`.
fn signed_with(secret: &str, received: &Received) -> bool {
    let mut headers = HeaderMap::new();
    for (name, value) in &received.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let candidate = SecretCandidate {
        id: "candidate",
        value: secret.as_bytes(),
        prepared: None,
    };
    let now = chrono::Utc::now().timestamp();
    verify(
        &VerifierConfig::StandardWebhooks,
        &[candidate],
        &headers,
        received.body.as_bytes(),
        "",
        now,
    )
    .is_ok()
}

fn event_type(received: &Received) -> String {
    let body: Value = serde_json::from_str(&received.body).unwrap();
    body["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_endpoint_is_listed_and_shown_without_its_secret_and_gets_the_test_event() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    let (endpoint_id, secret) = endpoint(&server, &receiver.url, "0s,200ms,200ms").await;
    assert!(endpoint_id.starts_with("ep_"), "{endpoint_id}");
    assert!(secret.starts_with("whsec_"), "{secret}");

    let list = hookgate(&server, &["endpoints", "list", "--org", "acme"])
        .await
        .ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&endpoint_id))
        .unwrap_or_else(|| panic!("{endpoint_id} not listed:\n{}", list.stdout));
    assert!(row.contains(&receiver.url) && row.contains("true"), "{row}");
    assert!(!list.stdout.contains(&secret), "lists never show secrets");
    let listed = json(&server, &["endpoints", "list", "--org", "acme"]).await;
    assert_eq!(listed["data"][0]["id"], endpoint_id.as_str());

    let shown = hookgate(&server, &["endpoints", "show", &endpoint_id])
        .await
        .ok();
    assert_eq!(shown.field("enabled"), "true");
    assert_eq!(shown.field("retry schedule"), "0s,200ms,200ms");
    assert_eq!(shown.field("event types"), "(all)");
    assert!(!shown.stdout.contains(&secret), "show never shows secrets");
    let shown = json(&server, &["endpoints", "show", &endpoint_id]).await;
    assert_eq!(shown["endpoint"]["url"], receiver.url.as_str());
    assert_eq!(shown["secrets"]["data"].as_array().unwrap().len(), 1);

    let tested = hookgate(&server, &["endpoints", "test", &endpoint_id])
        .await
        .ok();
    assert_eq!(tested.field("deliveries"), "1");
    let event_id = tested.field("event");
    let received = receiver.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(event_type(&received[0]), "endpoint.test");
    assert_eq!(received[0].header("webhook-id"), Some(event_id.as_str()));
    assert!(signed_with(&secret, &received[0]));

    let delivery_id = only_delivery(&server, &endpoint_id).await;
    await_status(&server, &delivery_id, "delivered").await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_answered_503_then_200_shows_two_attempts_and_retry_sends_it_again() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[503]);
    let (endpoint_id, _) = endpoint(&server, &receiver.url, "0s,200ms,200ms").await;
    let publish = [
        "events",
        "publish",
        "--org",
        "acme",
        "--type",
        "run.completed",
        "--event-id",
        "evt_cli_1",
        "--run-id",
        "run_1",
        "--workflow-id",
        "wf_deploy",
        "--data",
        r#"{"output":{"ok":true}}"#,
    ];
    let published = hookgate(&server, &publish).await.ok();
    assert_eq!(published.field("event"), "evt_cli_1");
    assert_eq!(published.field("deliveries"), "1");
    let received = receiver.wait_for(2, WAIT).await;
    assert_eq!(received.len(), 2);
    let body: Value = serde_json::from_str(&received[1].body).unwrap();
    assert_eq!(body["data"]["output"]["ok"], true, "{body}");

    let delivery_id = only_delivery(&server, &endpoint_id).await;
    let detail = await_status(&server, &delivery_id, "delivered").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2, "{detail}");
    let shown = hookgate(&server, &["deliveries", "show", &delivery_id])
        .await
        .ok();
    assert_eq!(shown.field("status"), "delivered");
    assert_eq!(shown.field("event"), "evt_cli_1");
    let attempt = |n: &str, status: &str, error: &str| (n.into(), status.into(), error.into());
    assert_eq!(
        attempt_rows(&shown),
        [attempt("1", "503", "http_status"), attempt("2", "200", "-")],
        "{}",
        shown.stdout
    );
    let list = hookgate(&server, &["deliveries", "list", "--org", "acme"])
        .await
        .ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&delivery_id))
        .unwrap_or_else(|| panic!("{delivery_id} not listed:\n{}", list.stdout));
    assert!(
        row.contains("run.completed") && row.contains("delivered"),
        "{row}"
    );

    let replayed = hookgate(&server, &publish).await.ok();
    assert_eq!(replayed.field("deliveries"), "0");
    assert!(replayed.stdout.contains("duplicate"), "{}", replayed.stdout);

    let retried = hookgate(&server, &["deliveries", "retry", &delivery_id])
        .await
        .ok();
    assert!(retried.stdout.contains(&delivery_id), "{}", retried.stdout);
    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received.len(), 3, "retry sends it again");
    assert_eq!(received[2].header("webhook-id"), Some("evt_cli_1"));
    let resent = eventually(WAIT, || async {
        let shown = json(&server, &["deliveries", "show", &delivery_id]).await;
        shown["status"] == "delivered" && shown["attempts"].as_array().unwrap().len() == 3
    })
    .await;
    assert!(resent, "the resend is logged as a third attempt");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_sent_again_by_retry_all_and_recover_since_an_hour_ago() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    // One failure at a time: well below the circuit breaker's threshold.
    receiver.answer(&[500]);
    let (endpoint_id, _) = endpoint(&server, &receiver.url, "0s").await;
    let publish = ["events", "publish", "--org", "acme", "--type", "run.failed"];
    hookgate(&server, &publish).await.ok();
    assert!(eventually(WAIT, || async { count(&server, "failed").await == 1 }).await);
    let failed = hookgate(
        &server,
        &["deliveries", "list", "--org", "acme", "--status", "failed"],
    )
    .await
    .ok();
    assert!(failed.stdout.contains("500"), "{}", failed.stdout);

    let future = [
        "deliveries",
        "retry-all",
        "--org",
        "acme",
        "--since",
        "2099-01-01T00:00:00Z",
    ];
    assert_eq!(
        json(&server, &future).await["retried"],
        0,
        "--since is sent"
    );
    let bulk = [
        "deliveries",
        "retry-all",
        "--org",
        "acme",
        "--endpoint",
        &endpoint_id,
        "--since",
        "1h",
    ];
    let retried = hookgate(&server, &bulk).await.ok();
    assert!(
        retried.stdout.starts_with("queued 1 delivery "),
        "{}",
        retried.stdout
    );
    assert_eq!(receiver.wait_for(2, WAIT).await.len(), 2);
    assert!(eventually(WAIT, || async { count(&server, "delivered").await == 1 }).await);

    receiver.answer(&[500]);
    hookgate(&server, &publish).await.ok();
    assert!(eventually(WAIT, || async { count(&server, "failed").await == 1 }).await);
    let recovered = hookgate(
        &server,
        // `deliveries recover` is the issue's name for `endpoints recover`: same call.
        &[
            "deliveries",
            "recover",
            "--endpoint",
            &endpoint_id,
            "--since",
            "1h",
        ],
    )
    .await
    .ok();
    assert!(
        recovered.stdout.starts_with("queued 1 failed delivery of"),
        "{}",
        recovered.stdout
    );
    assert_eq!(receiver.wait_for(4, WAIT).await.len(), 4);
    assert!(eventually(WAIT, || async { count(&server, "delivered").await == 2 }).await);
    assert_eq!(count(&server, "failed").await, 0);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_endpoint_secret_signs_beside_the_old_one_until_that_is_expired() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    let (endpoint_id, old) = endpoint(&server, &receiver.url, "0s").await;

    let rotate = ["endpoints", "rotate-secret", &endpoint_id, "--grace", "1h"];
    let rotated = hookgate(&server, &rotate).await.ok();
    let new = rotated.field("secret");
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    let old_id = rotated
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("PREVIOUS SECRET"))
        .nth(1)
        .and_then(|row| row.split_whitespace().next())
        .unwrap_or_else(|| panic!("no previous secret in:\n{}", rotated.stdout))
        .to_owned();

    hookgate(&server, &["endpoints", "test", &endpoint_id])
        .await
        .ok();
    let received = receiver.wait_for(1, WAIT).await;
    let signatures = received[0].header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(signed_with(&old, &received[0]) && signed_with(&new, &received[0]));

    let expire = ["endpoints", "expire-secret", &endpoint_id, &old_id];
    let expired = hookgate(&server, &expire).await.ok();
    assert!(expired.stdout.contains(&old_id), "{}", expired.stdout);
    hookgate(&server, &["endpoints", "test", &endpoint_id])
        .await
        .ok();
    let received = receiver.wait_for(2, WAIT).await;
    assert_eq!(received.len(), 2);
    assert!(
        signed_with(&new, &received[1]),
        "signed with the new secret"
    );
    assert!(
        !signed_with(&old, &received[1]),
        "no longer with the expired one"
    );

    let shown = hookgate(&server, &["endpoints", "show", &endpoint_id])
        .await
        .ok();
    let old_row = shown
        .stdout
        .lines()
        .find(|l| l.starts_with(&old_id))
        .unwrap_or_else(|| panic!("{old_id} not shown:\n{}", shown.stdout));
    assert!(old_row.contains("false"), "old secret inactive: {old_row}");
    let again = json(&server, &rotate).await;
    assert!(again["secret"].as_str().unwrap().starts_with("whsec_"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_endpoint_gets_no_deliveries_until_enabled_again() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    let (endpoint_id, _) = endpoint(&server, &receiver.url, "0s").await;

    let disabled = json(&server, &["endpoints", "disable", &endpoint_id]).await;
    assert_eq!(disabled["enabled"], false);
    let shown = hookgate(&server, &["endpoints", "show", &endpoint_id])
        .await
        .ok();
    assert_eq!(shown.field("enabled"), "false");
    let publish = [
        "events",
        "publish",
        "--org",
        "acme",
        "--type",
        "run.completed",
    ];
    let published = hookgate(&server, &publish).await.ok();
    assert_eq!(published.field("deliveries"), "0");
    let tested = hookgate(&server, &["endpoints", "test", &endpoint_id])
        .await
        .ok();
    assert_eq!(tested.field("deliveries"), "0");
    assert!(tested.stdout.contains("disabled"), "{}", tested.stdout);

    let enabled = hookgate(&server, &["endpoints", "enable", &endpoint_id])
        .await
        .ok();
    assert!(
        enabled
            .stdout
            .starts_with(&format!("enabled {endpoint_id}")),
        "{}",
        enabled.stdout
    );
    let published = hookgate(&server, &publish).await.ok();
    assert_eq!(published.field("deliveries"), "1");
    let received = receiver.wait_for(1, WAIT).await;
    assert_eq!(event_type(&received[0]), "run.completed");
    let delivery_id = only_delivery(&server, &endpoint_id).await;
    await_status(&server, &delivery_id, "delivered").await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_delivery_prints_not_found_with_the_request_id_and_exits_non_zero() {
    let server = server_with_org().await;
    let missing = hookgate(&server, &["deliveries", "show", "dlv_missing"]).await;
    assert!(!missing.success);
    assert!(missing.stdout.is_empty(), "{}", missing.stdout);
    assert!(
        missing.stderr.contains("not_found") && missing.stderr.contains("request id "),
        "{}",
        missing.stderr
    );
    server.stop().await.unwrap();
}
