//! The REST API's auth model and error envelope, in both modes.

use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

in_both_modes!(
    audit_only_key_reads_audit_but_cannot_mint_or_write_or_see_other_orgs,
    unknown_or_revoked_or_missing_credentials_are_unauthenticated,
    malformed_bodies_get_validation_failed_naming_the_field,
    unknown_routes_and_methods_get_the_error_envelope_with_request_id,
    audit_log_pages_with_cursor,
    the_operator_lists_orgs_alphabetically_page_by_page_and_keys_cannot,
    timestamps_are_utc_with_six_fraction_digits,
);

async fn the_operator_lists_orgs_alphabetically_page_by_page_and_keys_cannot(mode: Mode) {
    let server = TestServer::start(mode).await;
    for slug in ["mango", "apple", "kiwi"] {
        server.create_org(slug).await;
    }
    let first = server.get("/v1/orgs?limit=2", OPERATOR_TOKEN).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let slugs = |body: &serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(slugs(&first.body), ["apple", "kiwi"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = server
        .get(&format!("/v1/orgs?limit=2&cursor={cursor}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(slugs(&second.body), ["mango"]);
    assert!(second.body["next_cursor"].is_null());
    assert!(second.body["data"][0]["created_at"].is_string());

    let key = server.mint_key("apple", &[]).await;
    let refused = server.get("/v1/orgs", &key).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "operator_required");
    server.stop().await.unwrap();
}

async fn audit_only_key_reads_audit_but_cannot_mint_or_write_or_see_other_orgs(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    server.create_org("globex").await;
    let key = server.mint_key("acme", &["audit:read"]).await;
    assert!(key.starts_with("hg_"));

    let audit = server.get("/v1/orgs/acme/audit", &key).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["api_key_minted", "org_created"]);
    assert_eq!(audit.body["data"][0]["actor"], "operator");
    assert!(
        !audit.body.to_string().contains(&key),
        "the key never appears again"
    );

    let mint = server
        .post("/v1/orgs/acme/api-keys", &key, json!({"name": "x"}))
        .await;
    assert_eq!(
        (mint.status, mint.error_code()),
        (StatusCode::FORBIDDEN, "operator_required")
    );

    let create_org = server
        .post("/v1/orgs", &key, json!({"slug": "new", "name": "n"}))
        .await;
    assert_eq!(
        (create_org.status, create_org.error_code()),
        (StatusCode::FORBIDDEN, "operator_required")
    );

    let other = server.get("/v1/orgs/globex/audit", &key).await;
    assert_eq!(
        (other.status, other.error_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let missing = server.get("/v1/orgs/nosuch/audit", &key).await;
    assert_eq!(
        other.body["error"]["message"],
        missing.body["error"]["message"]
    );

    let list_keys = server.get("/v1/orgs/acme/api-keys", &key).await;
    assert_eq!(list_keys.error_code(), "operator_required");

    let listed = server.get("/v1/orgs/acme/api-keys", OPERATOR_TOKEN).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"][0]["scopes"], json!(["audit:read"]));
    assert!(
        listed.body["data"][0].get("key").is_none(),
        "lists show metadata only"
    );
    server.stop().await.unwrap();
}

async fn unknown_or_revoked_or_missing_credentials_are_unauthenticated(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let key = server.mint_key("acme", &[]).await;
    assert_eq!(
        server.get("/v1/orgs/acme", &key).await.status,
        StatusCode::OK
    );

    for token in [
        "hg_00000000",
        "nonsense",
        OPERATOR_TOKEN.trim_end_matches('9'),
    ] {
        let reply = server.get("/v1/orgs/acme", token).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{token}"
        );
    }
    let anonymous = server.call(Method::GET, "/v1/orgs/acme", None, None).await;
    assert_eq!(anonymous.error_code(), "unauthenticated");

    let key_id = server
        .get("/v1/orgs/acme/api-keys", OPERATOR_TOKEN)
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_key = server
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(by_key.error_code(), "operator_required");
    let revoke = server
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/v1/orgs/acme", &key).await.error_code(),
        "unauthenticated"
    );

    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    assert_eq!(audit.body["data"][0]["action"], "api_key_revoked");
    assert_eq!(audit.body["data"][0]["target"], key_id.as_str());
    server.stop().await.unwrap();
}

async fn malformed_bodies_get_validation_failed_naming_the_field(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let cases = [
        (json!({"slug": "Bad Slug", "name": "x"}), "slug"),
        (json!({"slug": "ok-slug"}), "name"),
        (json!({"slug": "ok-slug", "name": 5}), "name"),
        (json!({"slug": "ok-slug", "name": "x", "extra": 1}), "extra"),
    ];
    for (body, field) in cases {
        let reply = server.post("/v1/orgs", OPERATOR_TOKEN, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.error_code(), "validation_failed");
        assert_eq!(
            reply.body["error"]["details"]["field"], field,
            "{}",
            reply.body
        );
    }
    let scopes = server
        .post(
            "/v1/orgs/acme/api-keys",
            OPERATOR_TOKEN,
            json!({"name": "x", "scopes": ["audit:read", "root"]}),
        )
        .await;
    assert_eq!(
        scopes.body["error"]["details"]["field"], "scopes[1]",
        "{}",
        scopes.body
    );

    let not_json = reqwest::Client::new()
        .post(format!("{}/v1/orgs", server.url))
        .bearer_auth(OPERATOR_TOKEN)
        .header("content-type", "application/json")
        .body("{\"slug\":")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = not_json.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");

    let duplicate = server
        .post(
            "/v1/orgs",
            OPERATOR_TOKEN,
            json!({"slug": "acme", "name": "again"}),
        )
        .await;
    assert_eq!(
        (duplicate.status, duplicate.error_code()),
        (StatusCode::CONFLICT, "conflict")
    );
    server.stop().await.unwrap();
}

async fn unknown_routes_and_methods_get_the_error_envelope_with_request_id(mode: Mode) {
    let server = TestServer::start(mode).await;
    let missing = server.get("/v1/nowhere", OPERATOR_TOKEN).await;
    assert_eq!(
        (missing.status, missing.error_code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let request_id = missing.headers["x-request-id"].to_str().unwrap();
    assert_eq!(missing.body["error"]["request_id"], request_id);

    let wrong_method = server.call(Method::PUT, "/healthz", None, None).await;
    assert_eq!(
        (wrong_method.status, wrong_method.error_code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    let ok = server.call(Method::GET, "/healthz", None, None).await;
    assert!(ok.headers.contains_key("x-request-id"));

    let echoed = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
    server.stop().await.unwrap();
}

async fn audit_log_pages_with_cursor(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for _ in 0..4 {
        server.mint_key("acme", &[]).await;
    }
    let first = server
        .get("/v1/orgs/acme/audit?limit=3", OPERATOR_TOKEN)
        .await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = server
        .get(
            &format!("/v1/orgs/acme/audit?limit=3&cursor={cursor}"),
            OPERATOR_TOKEN,
        )
        .await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 2);
    assert!(second.body["next_cursor"].is_null());
    assert_eq!(second.body["data"][1]["action"], "org_created");

    let bad = server
        .get("/v1/orgs/acme/audit?limit=500", OPERATOR_TOKEN)
        .await;
    assert_eq!(bad.body["error"]["details"]["field"], "limit");
    let bad_cursor = server
        .get("/v1/orgs/acme/audit?cursor=%%%", OPERATOR_TOKEN)
        .await;
    assert_eq!(bad_cursor.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop().await.unwrap();
}

/// One precision in both modes: PostgreSQL keeps microseconds, SQLite and the clock
/// nanoseconds; the API answers RFC 3339 in UTC with exactly six fraction digits.
async fn timestamps_are_utc_with_six_fraction_digits(mode: Mode) {
    fn timestamps(value: &serde_json::Value, found: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match value.as_str() {
                        Some(text) if key.ends_with("_at") => {
                            found.push((key.clone(), text.to_owned()))
                        }
                        _ => timestamps(value, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| timestamps(v, found)),
            _ => {}
        }
    }
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let (source_id, _) = server
        .create_source(
            "acme",
            json!({"name": "gh", "workflow_id": "wf", "verifier": {"type": "github"}}),
        )
        .await;
    let run = server
        .post("/v1/orgs/acme/workflows/wf/runs", OPERATOR_TOKEN, json!({}))
        .await;
    let run_id = run.body["run"]["id"].as_str().unwrap().to_owned();
    let mut found = Vec::new();
    for path in [
        "/v1/orgs/acme".to_owned(),
        format!("/v1/sources/{source_id}"),
        format!("/v1/sources/{source_id}/secrets"),
        format!("/v1/runs/{run_id}"),
        "/v1/orgs/acme/runs".to_owned(),
        "/v1/orgs/acme/audit".to_owned(),
    ] {
        let reply = server.get(&path, OPERATOR_TOKEN).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        timestamps(&reply.body, &mut found);
    }
    assert!(found.len() >= 6, "{found:?}");
    for (field, text) in found {
        let (date_time, zone) = text.split_at(text.len() - 1);
        let fraction = date_time.rsplit_once('.').map(|(_, f)| f);
        assert!(
            zone == "Z"
                && fraction.is_some_and(|f| f.len() == 6 && f.bytes().all(|b| b.is_ascii_digit()))
                && chrono::DateTime::parse_from_rfc3339(&text).is_ok(),
            "{field}: {text}"
        );
    }
    server.stop().await.unwrap();
}
