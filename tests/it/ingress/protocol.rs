//! Source management and the protocol around verification: filters, handshakes,
//! size limits, unknown sources, rejection samples, scopes.

use super::{now, signed, source_body};
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

in_both_modes!(
    filtered_events_are_recorded_as_ignored_without_a_run,
    github_ping_and_slack_url_verification_are_answered_without_a_run,
    bodies_over_the_limit_get_413_with_or_without_content_length,
    unknown_disabled_and_deleted_sources_answer_404,
    rejections_are_sampled_with_reason_and_header_names_only,
    source_routes_enforce_scopes_and_hide_other_orgs,
    source_crud_validates_and_audits,
);

async fn filtered_events_are_recorded_as_ignored_without_a_run(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let mut body = source_body(&verifier, Some("It's a Secret to Everybody"));
    body["event_filter"] = json!(["pull_request"]);
    let (source_id, secret) = server.create_source("acme", body).await;
    let payload = br#"{"ref":"refs/heads/main"}"#;
    let headers = signed(&verifier, &secret, payload, now(), "d-1"); // X-GitHub-Event: push
    let reply = server.send_webhook(&source_id, &headers, payload).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "ignored");
    assert!(reply.body.get("run_id").is_none());

    let mut pr = signed(&verifier, &secret, payload, now(), "d-2");
    pr.retain(|(name, _)| name != "X-GitHub-Event");
    pr.push(("X-GitHub-Event".into(), "pull_request".into()));
    assert_eq!(
        server.send_webhook(&source_id, &pr, payload).await.status,
        StatusCode::ACCEPTED
    );
    server.stop().await.unwrap();
}

async fn github_ping_and_slack_url_verification_are_answered_without_a_run(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let github = json!({"type": "github"});
    let (gh_id, gh_secret) = server
        .create_source("acme", source_body(&github, None))
        .await;
    let ping = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let mut headers = signed(&github, &gh_secret, ping, now(), "ping-1");
    headers.retain(|(name, _)| name != "X-GitHub-Event");
    headers.push(("X-GitHub-Event".into(), "ping".into()));
    let reply = server.send_webhook(&gh_id, &headers, ping).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.get("run_id").is_none());

    let slack = json!({"type": "slack"});
    let (sl_id, sl_secret) = server
        .create_source("acme", source_body(&slack, None))
        .await;
    let challenge = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let reply = server
        .send_webhook(
            &sl_id,
            &signed(&slack, &sl_secret, challenge, now(), "x"),
            challenge,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // An unsigned handshake is refused like anything else.
    let unsigned = server.send_webhook(&sl_id, &[], challenge).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    server.stop().await.unwrap();
}

async fn bodies_over_the_limit_get_413_with_or_without_content_length(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let mut body = source_body(&verifier, None);
    body["max_body_bytes"] = json!(1024);
    let (source_id, secret) = server.create_source("acme", body).await;
    let big = vec![b'a'; 4096];
    let headers = signed(&verifier, &secret, &big, now(), "big");
    let declared = server.send_webhook(&source_id, &headers, &big).await;
    assert_eq!(
        (declared.status, declared.error_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'a'; 512])).collect();
    let mut request = server
        .client()
        .post(format!("{}/v1/ingress/{source_id}", server.url))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )));
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let chunked = request.send().await.unwrap();
    assert_eq!(chunked.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let small = vec![b'a'; 1024];
    let fits = server
        .send_webhook(
            &source_id,
            &signed(&verifier, &secret, &small, now(), "fits"),
            &small,
        )
        .await;
    assert_eq!(fits.status, StatusCode::ACCEPTED, "{}", fits.body);
    server.stop().await.unwrap();
}

async fn unknown_disabled_and_deleted_sources_answer_404(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let (source_id, secret) = server
        .create_source("acme", source_body(&verifier, None))
        .await;
    let payload = b"{}";
    let send = |id: String, msg: &'static str| {
        let headers = signed(&verifier, &secret, payload, now(), msg);
        let server = &server;
        async move { server.send_webhook(&id, &headers, payload).await }
    };
    let unknown = send("src_01M822QVAHFDYR61QT822T7JK7".into(), "a").await;
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let disable = server
        .call(
            Method::PATCH,
            &format!("/v1/sources/{source_id}"),
            Some(OPERATOR_TOKEN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(disable.status, StatusCode::OK, "{}", disable.body);
    let disabled = send(source_id.clone(), "b").await;
    assert_eq!(disabled.status, StatusCode::NOT_FOUND);
    assert_eq!(
        disabled.body["error"]["message"],
        unknown.body["error"]["message"]
    );

    server
        .call(
            Method::PATCH,
            &format!("/v1/sources/{source_id}"),
            Some(OPERATOR_TOKEN),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(
        send(source_id.clone(), "c").await.status,
        StatusCode::ACCEPTED
    );
    let delete = server
        .call(
            Method::DELETE,
            &format!("/v1/sources/{source_id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(source_id.clone(), "d").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .get(&format!("/v1/sources/{source_id}"), OPERATOR_TOKEN)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    server.stop().await.unwrap();
}

async fn rejections_are_sampled_with_reason_and_header_names_only(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "stripe"});
    let (source_id, secret) = server
        .create_source("acme", source_body(&verifier, None))
        .await;
    let payload = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let forged = signed(&verifier, "whsec_wrong", payload, now(), "x");
    let refused = server.send_webhook(&source_id, &forged, payload).await;
    assert_eq!(refused.error_code(), "signature_invalid");

    let path = format!("/v1/sources/{source_id}/rejections");
    let found = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        !server.get(&path, OPERATOR_TOKEN).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(found, "rejection sample recorded");
    let sample = server.get(&path, OPERATOR_TOKEN).await.body;
    assert_eq!(sample["data"][0]["reason"], "signature_invalid");
    let names = sample["data"][0]["headers_present"].as_array().unwrap();
    assert!(names.contains(&json!("stripe-signature")), "{names:?}");
    let text = sample.to_string();
    assert!(
        !text.contains(&secret) && !text.contains(&forged[0].1) && !text.contains("evt_1"),
        "{text}"
    );
    server.stop().await.unwrap();
}

async fn source_routes_enforce_scopes_and_hide_other_orgs(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let auditor = server.mint_key("acme", &["audit:read"]).await;
    let create = server
        .post(
            "/v1/orgs/acme/sources",
            &auditor,
            source_body(&json!({"type": "github"}), None),
        )
        .await;
    assert_eq!(
        (create.status, create.error_code()),
        (StatusCode::FORBIDDEN, "scope_denied")
    );

    let writer = server
        .mint_key("acme", &["source:write", "source:read"])
        .await;
    let created = server
        .post(
            "/v1/orgs/acme/sources",
            &writer,
            source_body(&json!({"type": "github"}), None),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let source_id = created.body["source"]["id"].as_str().unwrap();
    let rotate = server
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            &writer,
            json!({}),
        )
        .await;
    assert_eq!(
        (rotate.status, rotate.error_code()),
        (StatusCode::FORBIDDEN, "scope_denied")
    );

    let (foreign_id, _) = server
        .create_source("globex", source_body(&json!({"type": "github"}), None))
        .await;
    for path in [
        format!("/v1/sources/{foreign_id}"),
        format!("/v1/sources/{foreign_id}/secrets"),
    ] {
        let reply = server.get(&path, &writer).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let listed = server.get("/v1/orgs/acme/sources", &writer).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert!(!listed
        .body
        .to_string()
        .contains(created.body["secret"].as_str().unwrap()));
    server.stop().await.unwrap();
}

async fn source_crud_validates_and_audits(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let cases = [
        (
            json!({"name": "s", "workflow_id": "wf.bad", "verifier": {"type": "github"}}),
            "workflow_id",
        ),
        (
            json!({"name": "s", "workflow_id": "wf", "verifier": {"type": "nope"}}),
            "verifier.type",
        ),
        (
            json!({"name": "s", "workflow_id": "wf", "verifier": {"type": "github", "x": 1}}),
            "verifier",
        ),
        (
            json!({"name": "s", "workflow_id": "wf", "verifier": {"type": "hmac", "header": "bad header"}}),
            "verifier.header",
        ),
        (
            json!({"name": "s", "workflow_id": "wf", "verifier": {"type": "standard_webhooks"}, "secret": "whsec_!!"}),
            "secret",
        ),
        (
            json!({"name": "s", "workflow_id": "wf", "verifier": {"type": "github"}, "max_body_bytes": 0}),
            "max_body_bytes",
        ),
    ];
    for (body, field) in cases {
        let reply = server
            .post("/v1/orgs/acme/sources", OPERATOR_TOKEN, body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_eq!(
            reply.body["error"]["details"]["field"], field,
            "{body}: {}",
            reply.body
        );
    }
    let created = server
        .post(
            "/v1/orgs/acme/sources",
            OPERATOR_TOKEN,
            source_body(&json!({"type": "github"}), None),
        )
        .await;
    let id = created.body["source"]["id"].as_str().unwrap();
    assert!(created.body["ingress_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/ingress/{id}")));
    assert_eq!(created.body["source"]["max_body_bytes"], 1_048_576);
    let patched = server
        .call(
            Method::PATCH,
            &format!("/v1/sources/{id}"),
            Some(OPERATOR_TOKEN),
            Some(json!({"event_filter": ["push"], "max_body_bytes": 2048})),
        )
        .await;
    assert_eq!(patched.body["event_filter"], json!(["push"]));
    assert_eq!(patched.body["max_body_bytes"], 2048);
    let bad_patch = server
        .call(
            Method::PATCH,
            &format!("/v1/sources/{id}"),
            Some(OPERATOR_TOKEN),
            Some(json!({"verifier": {"type": "stripe"}})),
        )
        .await;
    assert_eq!(bad_patch.status, StatusCode::UNPROCESSABLE_ENTITY);
    server
        .call(
            Method::DELETE,
            &format!("/v1/sources/{id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..3],
        ["source_deleted", "source_updated", "source_created"]
    );
    server.stop().await.unwrap();
}
