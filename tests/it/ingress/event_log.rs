//! The ingress event log (SPEC §11) in both modes: found by the sender's delivery id,
//! read back byte for byte with redacted headers, followed to its run, its run events
//! and their deliveries, and replayed into a new run that reaches the broker.

use super::{now, signed, source_body, verifier_cases};
use crate::hooks::{endpoint, publish, ALLOW_LOOPBACK};
use crate::in_both_modes;
use crate::support::consumer::RunsConsumer;
use crate::support::receiver::TestReceiver;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

in_both_modes!(
    github_webhook_is_found_by_its_delivery_id_read_back_followed_and_replayed,
    ignored_and_handshake_events_are_listed_but_not_replayable,
    a_source_is_quiet_until_an_event_arrives,
    rejections_say_what_failed_for_every_verifier,
);

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const SECRET: &str = "It's a Secret to Everybody";

async fn github_source(server: &TestServer, event_filter: Value) -> String {
    let reply = server
        .post(
            "/v1/orgs/acme/sources",
            OPERATOR_TOKEN,
            json!({"name": "gh", "workflow_id": "wf_deploy", "verifier": {"type": "github"},
                   "secret": SECRET, "event_filter": event_filter}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["source"]["id"].as_str().unwrap().to_owned()
}

fn github_headers(body: &[u8], delivery: &str, event: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        signed(&json!({"type": "github"}), SECRET, body, 0, delivery)
            .into_iter()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("x-github-event")
                    && !name.eq_ignore_ascii_case("x-github-delivery")
            })
            .collect();
    headers.extend([
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
        (
            "User-Agent".to_owned(),
            "GitHub-Hookshot/044aadd".to_owned(),
        ),
        ("Cookie".to_owned(), "session=never-kept".to_owned()),
    ]);
    headers
}

async fn get(server: &TestServer, path: &str) -> Value {
    let reply = server.get(path, OPERATOR_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

async fn github_webhook_is_found_by_its_delivery_id_read_back_followed_and_replayed(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    let (endpoint_id, _) = endpoint(
        &server,
        &receiver.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;
    let source_id = github_source(&server, json!([])).await;
    let mut consumer = match mode {
        Mode::Production => {
            Some(RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap()).await)
        }
        Mode::Embedded => None,
    };
    // Bytes a re-serialisation would change: spacing, key order, an escaped slash, UTF-8.
    let body = "{\"ref\":\"refs/heads/main\",  \"zeta\":1,\"alpha\":\"caf\u{e9} \\/ ok\"}";
    let headers = github_headers(body.as_bytes(), DELIVERY, "push");
    let accepted = server
        .send_webhook(&source_id, &headers, body.as_bytes())
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let (event_id, run_id) = (
        accepted.body["event_id"].as_str().unwrap().to_owned(),
        accepted.body["run_id"].as_str().unwrap().to_owned(),
    );
    let again = server
        .send_webhook(&source_id, &headers, body.as_bytes())
        .await;
    assert_eq!(again.body["duplicate"], true, "{}", again.body);

    // Found by the sender's delivery id, in one call across the org's sources.
    let found = get(
        &server,
        &format!("/v1/orgs/acme/ingress-events?dedup_key={DELIVERY}"),
    )
    .await;
    let rows = found["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{found}");
    let row = &rows[0];
    assert_eq!(row["id"], event_id.as_str());
    assert_eq!(row["source_id"], source_id.as_str());
    assert_eq!(row["status"], "accepted");
    assert_eq!(row["event_name"], "push");
    assert_eq!(row["run_id"], run_id.as_str());
    assert_eq!(row["duplicates"], 1, "the repeat counted on the original");
    assert!(row["last_duplicate_at"].is_string(), "{row}");
    assert_eq!(row["body_bytes"], body.len());
    let by_source = get(
        &server,
        &format!("/v1/sources/{source_id}/events?status=accepted"),
    )
    .await;
    assert_eq!(by_source["data"][0]["id"], event_id.as_str());
    let none = get(&server, "/v1/orgs/acme/ingress-events?dedup_key=nope").await;
    assert_eq!(none["data"], json!([]));

    // Its run reports back, and the report goes out to the endpoint.
    publish(
        &server,
        json!({"type": "run.completed", "run_id": run_id, "workflow_id": "wf_deploy", "data": {"ok": true}}),
    )
    .await;
    assert_eq!(receiver.wait_for(1, Duration::from_secs(10)).await.len(), 1);

    let mut detail = Value::Null;
    for _ in 0..100 {
        detail = get(&server, &format!("/v1/ingress-events/{event_id}")).await;
        if detail["lineage"]["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(detail["body"], body, "byte for byte");
    let kept = &detail["headers"];
    assert_eq!(kept["x-hub-signature-256"], "[redacted]", "{kept}");
    assert_eq!(kept["x-github-delivery"], DELIVERY);
    assert_eq!(kept["user-agent"], "GitHub-Hookshot/044aadd");
    assert!(
        kept.get("cookie").is_none(),
        "credentials are dropped: {kept}"
    );
    assert!(!detail.to_string().contains(SECRET));
    let lineage = &detail["lineage"];
    let secrets = get(&server, &format!("/v1/sources/{source_id}/secrets")).await;
    assert_eq!(
        lineage["verified_by"]["secret_id"],
        secrets["data"][0]["id"]
    );
    assert_eq!(
        lineage["verified_by"]["fingerprint"],
        secrets["data"][0]["fingerprint"]
    );
    assert_eq!(lineage["run"]["id"], run_id.as_str());
    assert_eq!(
        lineage["run"]["events"],
        json!([{"seq": 1, "type": "run.completed",
                "occurred_at": lineage["run"]["events"][0]["occurred_at"]}])
    );
    let deliveries = lineage["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{lineage}");
    assert_eq!(deliveries[0]["endpoint_id"], endpoint_id.as_str());
    assert_eq!(deliveries[0]["event_type"], "run.completed");
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 1);

    // Replayed into a second run, from the stored body.
    let replayed = server
        .post(
            &format!("/v1/ingress-events/{event_id}/replay"),
            OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::CREATED, "{}", replayed.body);
    let replay_run = replayed.body["run"]["id"].as_str().unwrap().to_owned();
    assert_ne!(replay_run, run_id);
    assert_eq!(replayed.body["run"]["status"], "queued");
    assert_eq!(replayed.body["run"]["replay_of"], event_id.as_str());
    let run = get(&server, &format!("/v1/runs/{replay_run}")).await;
    assert_eq!(run["trigger"]["type"], "replay");
    assert_eq!(run["trigger"]["event_id"], event_id.as_str());
    let audit = get(&server, "/v1/orgs/acme/audit").await;
    assert_eq!(
        audit["data"][0]["action"], "ingress_event.replayed",
        "{audit}"
    );
    assert_eq!(audit["data"][0]["target"], event_id.as_str());
    if let Some(consumer) = consumer.as_mut() {
        let mut replay_message = None;
        for _ in 0..3 {
            let Some(message) = consumer.next(Duration::from_secs(10)).await else {
                break;
            };
            if message.message_id == replay_run {
                replay_message = Some(message);
                break;
            }
        }
        let message = replay_message.expect("the replayed run reached RabbitMQ");
        crate::runs::trigger::assert_matches_documented_schema(&message.body);
        assert_eq!(message.body["trigger"]["type"], "replay");
        assert_eq!(message.body["trigger"]["event_id"], event_id.as_str());
        assert_eq!(message.body["input"]["alpha"], "caf\u{e9} / ok");
        assert_eq!(message.headers["hookgate-source"], source_id);
    }
    server.stop().await.unwrap();
}

async fn ignored_and_handshake_events_are_listed_but_not_replayable(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let source_id = github_source(&server, json!(["push"])).await;
    let ping = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let pong = server
        .send_webhook(&source_id, &github_headers(ping, "ping-1", "ping"), ping)
        .await;
    assert_eq!(pong.status, StatusCode::OK, "{}", pong.body);
    let issue = br#"{"action":"opened"}"#;
    let ignored = server
        .send_webhook(
            &source_id,
            &github_headers(issue, "issue-1", "issues"),
            issue,
        )
        .await;
    assert_eq!(ignored.body["status"], "ignored", "{}", ignored.body);

    let listed = get(&server, &format!("/v1/sources/{source_id}/events")).await;
    let statuses: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ignored", "handshake"], "newest first: {listed}");
    for row in listed["data"].as_array().unwrap() {
        assert!(row["run_id"].is_null());
        let detail = get(
            &server,
            &format!("/v1/ingress-events/{}", row["id"].as_str().unwrap()),
        )
        .await;
        assert!(detail["lineage"]["run"].is_null(), "{detail}");
        let refused = server
            .post(
                &format!("/v1/ingress-events/{}/replay", row["id"].as_str().unwrap()),
                OPERATOR_TOKEN,
                json!({}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.error_code()),
            (StatusCode::CONFLICT, "not_replayable")
        );
    }
    let handshakes = get(&server, "/v1/orgs/acme/ingress-events?status=handshake").await;
    assert_eq!(handshakes["data"].as_array().unwrap().len(), 1);
    let bad = server
        .get("/v1/orgs/acme/ingress-events?status=lost", OPERATOR_TOKEN)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another org's key sees none of it.
    server.create_org("globex").await;
    let key = server.mint_key("globex", &["source:read"]).await;
    let hidden = server
        .get(
            &format!(
                "/v1/ingress-events/{}",
                listed["data"][0]["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let hidden = server
        .get(&format!("/v1/sources/{source_id}/events"), &key)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    server.stop().await.unwrap();
}

async fn a_source_is_quiet_until_an_event_arrives(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let source_id = github_source(&server, json!([])).await;
    let source_path = format!("/v1/sources/{source_id}");
    let patched = server
        .call(
            reqwest::Method::PATCH,
            &source_path,
            Some(OPERATOR_TOKEN),
            Some(json!({"quiet_after_s": 1})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["quiet_after_s"], 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let source = get(&server, &source_path).await;
    assert_eq!(source["quiet"], true, "{source}");
    assert!(source["last_event_at"].is_null());
    let quiet = get(&server, "/v1/orgs/acme/sources?quiet=true").await;
    assert_eq!(quiet["data"][0]["id"], source_id.as_str());

    let body = br#"{"ref":"refs/heads/main"}"#;
    let accepted = server
        .send_webhook(&source_id, &github_headers(body, "quiet-1", "push"), body)
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let source = get(&server, &source_path).await;
    assert_eq!(source["quiet"], false, "{source}");
    assert!(source["last_event_at"].is_string());
    let quiet = get(&server, "/v1/orgs/acme/sources?quiet=true").await;
    assert_eq!(quiet["data"], json!([]));
    let loud = get(&server, "/v1/orgs/acme/sources?quiet=false").await;
    assert_eq!(loud["data"][0]["id"], source_id.as_str());

    let cleared = server
        .call(
            reqwest::Method::PATCH,
            &source_path,
            Some(OPERATOR_TOKEN),
            Some(json!({"quiet_after_s": null})),
        )
        .await;
    assert!(cleared.body["quiet_after_s"].is_null(), "{}", cleared.body);
    let refused = server
        .call(
            reqwest::Method::PATCH,
            &source_path,
            Some(OPERATOR_TOKEN),
            Some(json!({"quiet_after_s": 0})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await.unwrap();
}

/// The newest rejection sample of a source, once it is written (off the request path).
async fn newest_rejection(server: &TestServer, source_id: &str) -> Value {
    let path = format!("/v1/sources/{source_id}/rejections");
    for _ in 0..100 {
        let listed = get(server, &path).await;
        if let Some(first) = listed["data"].get(0) {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no rejection sampled for {source_id}");
}

async fn rejections_say_what_failed_for_every_verifier(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for (verifier, body) in verifier_cases() {
        let kind = verifier["type"].as_str().unwrap().to_owned();
        // A forgery: signed with another secret.
        let (forged_source, secret) = server
            .create_source("acme", source_body(&verifier, None))
            .await;
        let other = if kind == "standard_webhooks" {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        } else {
            "whsec_not-the-secret-0123456789"
        };
        let forged = signed(&verifier, other, &body, now(), "m1");
        let refused = server.send_webhook(&forged_source, &forged, &body).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{kind}");
        let secrets = get(&server, &format!("/v1/sources/{forged_source}/secrets")).await;
        let fingerprint = secrets["data"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
        let sample = newest_rejection(&server, &forged_source).await;
        let detail = sample["detail"].as_str().unwrap();
        let what = if kind == "bearer" {
            "token"
        } else {
            "signature"
        };
        assert_eq!(
            detail,
            format!("{what} does not match the active secret (fingerprint {fingerprint})"),
            "{kind}"
        );
        assert!(
            !detail.contains(&secret) && !sample.to_string().contains(&secret),
            "{kind}"
        );

        // Nothing signed at all: the missing header is named beside those present.
        let (bare_source, _) = server
            .create_source("acme", source_body(&verifier, None))
            .await;
        let unsigned = server
            .send_webhook(
                &bare_source,
                &[("X-Unrelated".to_owned(), "1".to_owned())],
                &body,
            )
            .await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED, "{kind}");
        let sample = newest_rejection(&server, &bare_source).await;
        let detail = sample["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("header ")
                && detail.contains(" missing; present: ")
                && detail.contains("x-unrelated"),
            "{kind}: {detail}"
        );

        // Signed 412 s ago: schemes with a replay window say by how much it missed.
        if ["stripe", "standard_webhooks", "slack", "hmac"].contains(&kind.as_str()) {
            let (stale_source, secret) = server
                .create_source("acme", source_body(&verifier, None))
                .await;
            let stale = signed(&verifier, &secret, &body, now() - 412, "m3");
            let refused = server.send_webhook(&stale_source, &stale, &body).await;
            assert_eq!(refused.error_code(), "timestamp_out_of_tolerance", "{kind}");
            let sample = newest_rejection(&server, &stale_source).await;
            let detail = sample["detail"].as_str().unwrap();
            assert!(
                ["timestamp 412 s old", "timestamp 413 s old"]
                    .iter()
                    .any(|start| detail.starts_with(start))
                    && detail.ends_with(", tolerance 300 s"),
                "{kind}: {detail}"
            );
        }
    }
    server.stop().await.unwrap();
}
