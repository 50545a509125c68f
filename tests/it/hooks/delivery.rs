//! Deliveries in both modes: signing, retries with their log, restarts, 410, rotation,
//! manual retries.

use super::{await_status, deliveries, endpoint, patch, publish, ALLOW_LOOPBACK};
use crate::in_both_modes;
use crate::support::receiver::{official_verifiers_accept, TestReceiver};
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

in_both_modes!(
    endpoint_failing_past_the_limit_is_disabled_and_its_pending_delivery_resumes_on_enable,
    delivered_event_is_signed_so_official_verifiers_accept_it,
    receiver_answering_503_twice_then_200_sees_three_logged_attempts,
    restart_between_attempts_loses_no_retry,
    endpoint_answering_410_is_disabled_and_others_hear_of_it,
    during_a_rotation_receivers_with_old_or_new_secret_both_verify,
    failed_deliveries_are_retried_by_hand_one_recover_and_bulk,
    events_fan_out_by_type_and_workflow_and_are_idempotent_on_event_id,
    a_delivery_whose_endpoint_fails_shows_as_retrying_at_once_and_disabled_with_its_endpoint,
);

/// SPEC §7.1: `retrying` while the schedule runs, so a failing endpoint shows now;
/// `disabled` while its endpoint is, and `retrying` again once it is enabled.
async fn a_delivery_whose_endpoint_fails_shows_as_retrying_at_once_and_disabled_with_its_endpoint(
    mode: Mode,
) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[500; 10]);
    // A long second step keeps the delivery in its schedule while we look.
    let (endpoint_id, _) =
        endpoint(&server, &receiver.url, json!({"retry_schedule": "0s,1h"})).await;
    publish(&server, json!({"type": "run.failed", "data": {}})).await;
    assert_eq!(receiver.wait_for(1, WAIT).await.len(), 1);
    let list = |status: &'static str| {
        let server = &server;
        async move {
            server
                .get(
                    &format!("/v1/orgs/acme/deliveries?status={status}"),
                    OPERATOR_TOKEN,
                )
                .await
                .body["data"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let mut retrying = Vec::new();
    for _ in 0..50 {
        retrying = list("retrying").await;
        if !retrying.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(retrying.len(), 1, "listed as retrying");
    let row = &retrying[0];
    assert_eq!(row["endpoint_id"], endpoint_id.as_str());
    assert_eq!(row["status"], "retrying");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["last_status"], 500);
    assert!(row["next_attempt_at"].is_string(), "{row}");
    let first_attempt = server
        .get(
            &format!("/v1/deliveries/{}", row["id"].as_str().unwrap()),
            OPERATOR_TOKEN,
        )
        .await
        .body["attempts"][0]["started_at"]
        .clone();
    assert_eq!(row["last_attempt_at"], first_attempt, "{row}");
    assert!(list("pending").await.is_empty(), "tried, so not pending");
    assert!(list("failed").await.is_empty(), "its schedule is not over");

    let endpoint_path = format!("/v1/endpoints/{endpoint_id}");
    patch(&server, &endpoint_path, json!({"enabled": false})).await;
    let disabled = list("disabled").await;
    assert_eq!(disabled.len(), 1, "listed as disabled");
    assert_eq!(disabled[0]["status"], "disabled");
    assert_eq!(disabled[0]["id"], row["id"]);
    assert!(
        list("retrying").await.is_empty(),
        "not retried while disabled"
    );
    let shown = server
        .get(
            &format!("/v1/deliveries/{}", row["id"].as_str().unwrap()),
            OPERATOR_TOKEN,
        )
        .await;
    assert_eq!(shown.body["status"], "disabled");
    patch(&server, &endpoint_path, json!({"enabled": true})).await;
    assert_eq!(
        list("retrying").await.len(),
        1,
        "retrying again once enabled"
    );
    assert!(list("disabled").await.is_empty());
    let bad = server
        .get("/v1/orgs/acme/deliveries?status=stuck", OPERATOR_TOKEN)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await.unwrap();
}

const WAIT: Duration = Duration::from_secs(10);

async fn delivered_event_is_signed_so_official_verifiers_accept_it(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    let (_, secret) = endpoint(&server, &receiver.url, json!({})).await;
    let published = publish(
        &server,
        json!({"event_id": "evt_a1", "type": "run.completed", "run_id": "run_1",
        "workflow_id": "wf", "data": {"output": {"ok": true}}}),
    )
    .await;
    assert_eq!(published["deliveries"], 1);
    let received = receiver.wait_for(1, WAIT).await;
    let delivery = &received[0];
    assert_eq!(delivery.header("webhook-id"), Some("evt_a1"));
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    let trace = delivery
        .header("traceparent")
        .expect("deliveries carry a traceparent");
    assert!(trace.starts_with("00-") && trace.len() == 55, "{trace}");
    let body: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["type"], "run.completed");
    assert_eq!(body["data"], json!({"output": {"ok": true}}));
    assert!(body["timestamp"].is_string());
    assert!(
        official_verifiers_accept(&secret, delivery),
        "standardwebhooks and svix accept"
    );
    assert!(!official_verifiers_accept(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        delivery
    ));
    server.stop().await.unwrap();
}

async fn receiver_answering_503_twice_then_200_sees_three_logged_attempts(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[503, 503]);
    let (endpoint_id, _) = endpoint(&server, &receiver.url, json!({})).await;
    publish(&server, json!({"type": "run.failed", "data": {}})).await;
    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received.len(), 3);
    let ids: Vec<_> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "webhook-id is stable across retries"
    );

    let delivery_id = deliveries(&server, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = await_status(&server, &delivery_id, "delivered").await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{detail}");
    let statuses: Vec<_> = attempts
        .iter()
        .map(|a| a["response_status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], n as u64 + 1);
        assert!(attempt["duration_ms"].is_u64());
        assert!(attempt["started_at"].is_string());
        assert_eq!(attempt["request_url"], receiver.url.as_str());
    }
    assert_eq!(attempts[0]["error"], "http_status");
    assert!(attempts[0]["next_attempt_at"].is_string());
    assert!(attempts[2]["error"].is_null() && attempts[2]["next_attempt_at"].is_null());
    let metrics = server
        .call(reqwest::Method::GET, "/metrics", None, None)
        .await
        .body;
    let metrics = metrics.as_str().unwrap();
    for line in [
        r#"hookgate_deliveries_total{outcome="retrying"} 2"#,
        r#"hookgate_deliveries_total{outcome="delivered"} 1"#,
        "hookgate_delivery_duration_seconds_count 3",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    server.stop().await.unwrap();
}

async fn restart_between_attempts_loses_no_retry(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[503]);
    let (endpoint_id, _) =
        endpoint(&server, &receiver.url, json!({"retry_schedule": "0s,2s"})).await;
    publish(&server, json!({"type": "run.completed", "data": {}})).await;
    receiver.wait_for(1, WAIT).await;
    let server = server.restart().await;
    let received = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        received.len(),
        2,
        "the retry scheduled before the restart happened after it"
    );
    let delivery_id = deliveries(&server, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = await_status(&server, &delivery_id, "delivered").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2);
    server.stop().await.unwrap();
}

async fn endpoint_answering_410_is_disabled_and_others_hear_of_it(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let gone = TestReceiver::start().await;
    gone.answer(&[410]);
    let watcher = TestReceiver::start().await;
    let (gone_id, _) = endpoint(
        &server,
        &gone.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;
    endpoint(
        &server,
        &watcher.url,
        json!({"event_types": ["endpoint.disabled"]}),
    )
    .await;
    publish(&server, json!({"type": "run.completed", "data": {}})).await;

    let heard = watcher.wait_for(1, WAIT).await;
    let body: serde_json::Value = serde_json::from_str(&heard[0].body).unwrap();
    assert_eq!(body["type"], "endpoint.disabled");
    assert_eq!(body["data"]["endpoint_id"], gone_id.as_str());
    assert_eq!(body["data"]["reason"], "gone");
    let disabled = server
        .get(&format!("/v1/endpoints/{gone_id}"), OPERATOR_TOKEN)
        .await
        .body;
    assert_eq!(
        (
            disabled["enabled"].as_bool(),
            disabled["disabled_reason"].as_str()
        ),
        (Some(false), Some("gone"))
    );

    // While disabled it gets no deliveries; re-enabled, its failed one can be recovered.
    let during = publish(&server, json!({"type": "run.completed", "data": {"n": 2}})).await;
    assert_eq!(during["deliveries"], 0);
    patch(
        &server,
        &format!("/v1/endpoints/{gone_id}"),
        json!({"enabled": true}),
    )
    .await;
    server
        .post(
            &format!("/v1/endpoints/{gone_id}/recover"),
            OPERATOR_TOKEN,
            json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(gone.wait_for(2, WAIT).await.len(), 2);
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await.body;
    assert!(audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "endpoint_disabled" && e["actor"] == "hookgate"));
    server.stop().await.unwrap();
}

async fn during_a_rotation_receivers_with_old_or_new_secret_both_verify(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    let (endpoint_id, old) = endpoint(&server, &receiver.url, json!({})).await;
    let rotated = server
        .post(
            &format!("/v1/endpoints/{endpoint_id}/secrets/rotate"),
            OPERATOR_TOKEN,
            json!({"grace_period_s": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    publish(&server, json!({"type": "run.completed", "data": {}})).await;
    let received = receiver.wait_for(1, WAIT).await;
    let signatures = received[0].header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(
        official_verifiers_accept(&old, &received[0]),
        "receiver with the old secret"
    );
    assert!(
        official_verifiers_accept(&new, &received[0]),
        "receiver with the new secret"
    );

    let old_id = rotated.body["previous"][0]["id"].as_str().unwrap();
    let expired = server
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/endpoints/{endpoint_id}/secrets/{old_id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!(expired.status, StatusCode::NO_CONTENT);
    publish(&server, json!({"type": "run.completed", "data": {"n": 2}})).await;
    let received = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        received[1]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    assert!(official_verifiers_accept(&new, &received[1]));
    assert!(!official_verifiers_accept(&old, &received[1]));
    server.stop().await.unwrap();
}

async fn failed_deliveries_are_retried_by_hand_one_recover_and_bulk(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    // Three failures in a row: below the circuit breaker's threshold of five.
    receiver.answer(&[500, 500, 500]);
    let (endpoint_id, _) = endpoint(&server, &receiver.url, json!({"retry_schedule": "0s"})).await;
    publish(&server, json!({"type": "run.completed", "data": {"n": 1}})).await;
    publish(&server, json!({"type": "run.completed", "data": {"n": 2}})).await;
    let listed = deliveries(&server, &endpoint_id).await;
    for delivery in &listed {
        await_status(&server, delivery["id"].as_str().unwrap(), "failed").await;
    }
    let failed = server
        .get("/v1/orgs/acme/deliveries?status=failed", OPERATOR_TOKEN)
        .await
        .body;
    assert_eq!(failed["data"].as_array().unwrap().len(), 2);

    let one = listed[0]["id"].as_str().unwrap();
    let retried = server
        .post(
            &format!("/v1/deliveries/{one}/retry"),
            OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(
        (retried.status, retried.body["retried"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    await_status(&server, one, "failed").await; // 500 again (scripted), then gives up

    let recover = server
        .post(
            &format!("/v1/endpoints/{endpoint_id}/recover"),
            OPERATOR_TOKEN,
            json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(recover.body["deliveries"], 2, "{}", recover.body);
    for delivery in &listed {
        await_status(&server, delivery["id"].as_str().unwrap(), "delivered").await;
    }
    let bulk = server
        .post(
            "/v1/orgs/acme/deliveries/retry",
            OPERATOR_TOKEN,
            json!({"endpoint_id": endpoint_id}),
        )
        .await;
    assert_eq!(bulk.body["retried"], 0, "nothing failed any more");
    let delivered = server
        .post(
            &format!("/v1/deliveries/{one}/retry"),
            OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(
        delivered.body["retried"], 1,
        "a delivered one can be resent on purpose"
    );
    server.stop().await.unwrap();
}

async fn events_fan_out_by_type_and_workflow_and_are_idempotent_on_event_id(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    let (all, _) = endpoint(&server, &receiver.url, json!({})).await;
    let (completed_only, _) = endpoint(
        &server,
        &receiver.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;
    let (deploy_only, _) = endpoint(
        &server,
        &receiver.url,
        json!({"workflow_ids": ["wf_deploy"]}),
    )
    .await;
    let first = publish(
        &server,
        json!({"event_id": "e-1", "type": "run.completed", "workflow_id": "wf_deploy", "data": {}}),
    )
    .await;
    assert_eq!(first["deliveries"], 3);
    let again = publish(
        &server,
        json!({"event_id": "e-1", "type": "run.completed", "workflow_id": "wf_deploy", "data": {}}),
    )
    .await;
    assert_eq!(
        (again["deliveries"].as_u64(), again["duplicate"].as_bool()),
        (Some(0), Some(true))
    );
    let other = publish(
        &server,
        json!({"type": "run.failed", "workflow_id": "wf_report", "data": {}}),
    )
    .await;
    assert_eq!(other["deliveries"], 1);
    assert_eq!(deliveries(&server, &all).await.len(), 2);
    assert_eq!(deliveries(&server, &completed_only).await.len(), 1);
    assert_eq!(deliveries(&server, &deploy_only).await.len(), 1);
    receiver.wait_for(4, WAIT).await;

    let bad = server
        .post(
            "/v1/orgs/acme/events",
            OPERATOR_TOKEN,
            json!({"type": "run completed"}),
        )
        .await;
    assert_eq!(bad.body["error"]["details"]["field"], "type");
    let key = server.mint_key("acme", &["endpoint:read"]).await;
    let denied = server
        .post(
            "/v1/orgs/acme/events",
            &key,
            json!({"type": "run.completed"}),
        )
        .await;
    assert_eq!(denied.error_code(), "scope_denied");
    server.stop().await.unwrap();
}

async fn endpoint_failing_past_the_limit_is_disabled_and_its_pending_delivery_resumes_on_enable(
    mode: Mode,
) {
    // "5 days" shortened to 1 s for the test; the rule is the same.
    let server =
        TestServer::start_with(mode, &[ALLOW_LOOPBACK, "--endpoint-disable-after=1s"]).await;
    let failing = TestReceiver::start().await;
    // The second failure comes ≥ 1.2 s after the first: past the 1 s limit.
    failing.answer(&[500, 500]);
    let watcher = TestReceiver::start().await;
    let (failing_id, _) = endpoint(
        &server,
        &failing.url,
        json!({"event_types": ["run.completed"], "retry_schedule": "0s,1500ms,1500ms"}),
    )
    .await;
    endpoint(
        &server,
        &watcher.url,
        json!({"event_types": ["endpoint.disabled"]}),
    )
    .await;
    publish(&server, json!({"type": "run.completed", "data": {}})).await;

    let heard = watcher.wait_for(1, WAIT).await;
    let body: serde_json::Value = serde_json::from_str(&heard[0].body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["reason"].as_str()),
        (Some("endpoint.disabled"), Some("failing"))
    );
    let disabled = server
        .get(&format!("/v1/endpoints/{failing_id}"), OPERATOR_TOKEN)
        .await
        .body;
    assert_eq!(disabled["disabled_reason"], "failing");
    let delivery = deliveries(&server, &failing_id).await[0].clone();
    // Its retry is kept, shown as waiting on the disabled endpoint (SPEC §7.1).
    assert_eq!(delivery["status"], "disabled", "{delivery}");
    assert!(delivery["next_attempt_at"].is_string(), "{delivery}");

    let attempts_while_disabled = failing.received().len();
    patch(
        &server,
        &format!("/v1/endpoints/{failing_id}"),
        json!({"enabled": true}),
    )
    .await;
    await_status(&server, delivery["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(failing.received().len(), attempts_while_disabled + 1);
    server.stop().await.unwrap();
}
