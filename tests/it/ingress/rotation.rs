//! Zero-downtime rotation and revocation of source secrets (SPEC §5).

use super::{now, signed, source_body};
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

in_both_modes!(
    rotation_with_grace_accepts_old_and_new_then_expiry_refuses_old_at_once,
    previous_secret_stops_verifying_when_its_grace_ends,
);

async fn send(server: &TestServer, source_id: &str, secret: &str, id: &str) -> StatusCode {
    let verifier = json!({"type": "github"});
    let body = format!(r#"{{"delivery":"{id}"}}"#).into_bytes();
    server
        .send_webhook(
            source_id,
            &signed(&verifier, secret, &body, now(), id),
            &body,
        )
        .await
        .status
}

async fn secrets(server: &TestServer, source_id: &str) -> Vec<Value> {
    server
        .get(&format!("/v1/sources/{source_id}/secrets"), OPERATOR_TOKEN)
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn rotation_with_grace_accepts_old_and_new_then_expiry_refuses_old_at_once(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let rotator = server.mint_key("acme", &["secret:rotate"]).await;
    let (source_id, old) = server
        .create_source(
            "acme",
            source_body(&json!({"type": "github"}), Some("old-secret-from-github")),
        )
        .await;
    assert_eq!(old, "old-secret-from-github");
    assert_eq!(
        send(&server, &source_id, &old, "d1").await,
        StatusCode::ACCEPTED
    );
    let listed = secrets(&server, &source_id).await;
    let old_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert!(
        listed[0]["last_used_at"].is_string(),
        "last_used_at moves with use: {listed:?}"
    );

    let rotated = server
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            &rotator,
            json!({"grace_period_s": 60}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    let new_id = rotated.body["secret_id"].as_str().unwrap().to_owned();
    assert_eq!(rotated.body["previous"][0]["id"], old_id.as_str());
    assert!(rotated.body["previous"][0]["expires_at"].is_string());

    assert_eq!(
        send(&server, &source_id, &old, "d2").await,
        StatusCode::ACCEPTED,
        "old still valid in grace"
    );
    assert_eq!(
        send(&server, &source_id, &new, "d3").await,
        StatusCode::ACCEPTED,
        "new valid at once"
    );
    let listed = secrets(&server, &source_id).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], new_id.as_str());
    assert!(listed[0]["expires_at"].is_null() && listed[0]["last_used_at"].is_string());
    assert!(listed[1]["expires_at"].is_string() && listed[1]["active"] == true);
    let text = Value::Array(listed).to_string();
    assert!(
        !text.contains(&old) && !text.contains(&new),
        "values never listed"
    );

    let expire = server
        .call(
            Method::DELETE,
            &format!("/v1/sources/{source_id}/secrets/{old_id}"),
            Some(&rotator),
            None,
        )
        .await;
    assert_eq!(expire.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&server, &source_id, &old, "d4").await,
        StatusCode::UNAUTHORIZED,
        "expired now"
    );
    assert_eq!(
        send(&server, &source_id, &new, "d5").await,
        StatusCode::ACCEPTED
    );

    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await.body;
    let rotated_entry = &audit["data"][1];
    assert_eq!(audit["data"][0]["action"], "secret_expired");
    assert_eq!(audit["data"][0]["details"]["secret_id"], old_id.as_str());
    assert_eq!(rotated_entry["action"], "secret_rotated");
    assert!(rotated_entry["actor"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));
    assert_eq!(rotated_entry["details"]["grace_period_s"], 60);
    assert!(rotated_entry["at"].is_string());
    assert!(!audit.to_string().contains(&new));
    server.stop().await.unwrap();
}

async fn previous_secret_stops_verifying_when_its_grace_ends(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let (source_id, old) = server
        .create_source("acme", source_body(&json!({"type": "github"}), None))
        .await;
    let rotated = server
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            OPERATOR_TOKEN,
            json!({"grace_period_s": 1, "secret": "new-secret-set-by-sender"}),
        )
        .await;
    assert_eq!(rotated.body["secret"], "new-secret-set-by-sender");
    let mut n = 0;
    let old_refused =
        eventually(Duration::from_secs(5), || {
            n += 1;
            let (server, source_id, old) = (&server, &source_id, &old);
            async move {
                send(server, source_id, old, &format!("g{n}")).await == StatusCode::UNAUTHORIZED
            }
        })
        .await;
    assert!(old_refused, "old secret refused after its grace");
    assert_eq!(
        send(&server, &source_id, "new-secret-set-by-sender", "after").await,
        StatusCode::ACCEPTED
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_on_one_instance_takes_effect_on_another_within_a_second() {
    let database = crate::support::postgres_url().await;
    let prefix = crate::support::amqp_prefix();
    let one = TestServer::production_shared(&database, crate::support::AMQP_URL, &prefix).await;
    let two = TestServer::production_shared(&database, crate::support::AMQP_URL, &prefix).await;
    one.create_org("acme").await;
    let (source_id, old) = one
        .create_source("acme", source_body(&json!({"type": "github"}), None))
        .await;
    let rotated = one
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            OPERATOR_TOKEN,
            json!({"grace_period_s": 3600}),
        )
        .await;
    let old_id = rotated.body["previous"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Instance two now has the source (and the old secret) in its cache.
    assert_eq!(
        send(&two, &source_id, &old, "warm").await,
        StatusCode::ACCEPTED
    );

    let expired_at = std::time::Instant::now();
    let expire = one
        .call(
            Method::DELETE,
            &format!("/v1/sources/{source_id}/secrets/{old_id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!(expire.status, StatusCode::NO_CONTENT);
    let mut n = 0;
    let refused =
        eventually(Duration::from_secs(5), || {
            n += 1;
            let (two, source_id, old) = (&two, &source_id, &old);
            async move {
                send(two, source_id, old, &format!("after-{n}")).await == StatusCode::UNAUTHORIZED
            }
        })
        .await;
    let took = expired_at.elapsed();
    println!("expiry reached the other instance after {took:?}");
    assert!(refused);
    // 1 s cache lifetime, plus polling and scheduling slack on a loaded 2-core machine.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}
