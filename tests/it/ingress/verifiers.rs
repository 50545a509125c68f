//! Every verifier type end to end: accepted, tampered, wrong secret, replayed, stale.

use super::{now, signed, source_body, verifier_cases};
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::StatusCode;

in_both_modes!(
    each_verifier_accepts_its_senders_signature_and_refuses_forgeries,
    replayed_delivery_returns_the_same_run_without_a_second_one,
    stale_timestamps_are_refused_by_timestamped_schemes,
);

/// A well-formed secret for the scheme that is not the source's.
fn wrong_secret(kind: &str) -> &'static str {
    if kind == "standard_webhooks" {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    } else {
        "whsec_not-the-secret-0123456789"
    }
}

async fn each_verifier_accepts_its_senders_signature_and_refuses_forgeries(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for (verifier, body) in verifier_cases() {
        let kind = verifier["type"].as_str().unwrap().to_owned();
        let (source_id, secret) = server
            .create_source("acme", source_body(&verifier, None))
            .await;
        let headers = signed(&verifier, &secret, &body, now(), &format!("msg_{kind}"));

        let accepted = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(
            accepted.status,
            StatusCode::ACCEPTED,
            "{kind}: {}",
            accepted.body
        );
        assert_eq!(accepted.body["status"], "queued", "{kind}");
        assert_eq!(accepted.body["duplicate"], false, "{kind}");
        let run_id = accepted.body["run_id"].as_str().unwrap();
        // The run as the trigger API gives it, beside the fields senders' tools read.
        assert_eq!(
            accepted.body["run"],
            serde_json::json!({"id": run_id, "status": "queued"}),
            "{kind}"
        );
        let run = server
            .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
            .await;
        // The relay may already have published it (embedded mode's queue is in-process).
        assert!(
            ["queued", "published"].contains(&run.body["status"].as_str().unwrap()),
            "{kind}: {}",
            run.body
        );
        assert_eq!(run.body["trigger"]["source_id"], source_id.as_str());

        let mut tampered = body.clone();
        tampered.push(b' ');
        let refused = server.send_webhook(&source_id, &headers, &tampered).await;
        let expected = if kind == "bearer" {
            "token_invalid"
        } else {
            "signature_invalid"
        };
        if kind != "bearer" {
            // A bearer token does not cover the body; a MAC does.
            assert_eq!(
                (refused.status, refused.error_code()),
                (StatusCode::UNAUTHORIZED, expected),
                "{kind}"
            );
        }

        let forged = signed(
            &verifier,
            wrong_secret(&kind),
            &body,
            now(),
            &format!("msg2_{kind}"),
        );
        let refused = server.send_webhook(&source_id, &forged, &body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{kind}: {}",
            refused.body
        );
        assert_eq!(refused.error_code(), expected, "{kind}");
        assert!(!refused.body.to_string().contains(&secret));

        let unsigned = server.send_webhook(&source_id, &[], &body).await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED, "{kind}");
    }
    server.stop().await.unwrap();
}

async fn replayed_delivery_returns_the_same_run_without_a_second_one(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for (verifier, body) in verifier_cases() {
        let kind = verifier["type"].as_str().unwrap().to_owned();
        let (source_id, secret) = server
            .create_source("acme", source_body(&verifier, None))
            .await;
        let headers = signed(&verifier, &secret, &body, now(), "delivery-1");
        let first = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{kind}: {}", first.body);
        let again = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(again.status, StatusCode::OK, "{kind}: {}", again.body);
        assert_eq!(again.body["duplicate"], true, "{kind}");
        assert_eq!(again.body["run_id"], first.body["run_id"], "{kind}");
        assert_eq!(again.body["run"]["id"], first.body["run_id"], "{kind}");
        assert_eq!(again.body["event_id"], first.body["event_id"], "{kind}");
    }
    server.stop().await.unwrap();
}

async fn stale_timestamps_are_refused_by_timestamped_schemes(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for (verifier, body) in verifier_cases() {
        let kind = verifier["type"].as_str().unwrap().to_owned();
        if !["stripe", "standard_webhooks", "slack", "hmac"].contains(&kind.as_str()) {
            continue;
        }
        let (source_id, secret) = server
            .create_source("acme", source_body(&verifier, None))
            .await;
        let stale = signed(&verifier, &secret, &body, now() - 600, "old");
        let refused = server.send_webhook(&source_id, &stale, &body).await;
        assert_eq!(
            (refused.status, refused.error_code()),
            (StatusCode::UNAUTHORIZED, "timestamp_out_of_tolerance"),
            "{kind}: {}",
            refused.body
        );
        if kind != "stripe" {
            // Stripe's own library accepts future timestamps; the others refuse them.
            let future = signed(&verifier, &secret, &body, now() + 600, "future");
            let refused = server.send_webhook(&source_id, &future, &body).await;
            assert_eq!(refused.error_code(), "timestamp_out_of_tolerance", "{kind}");
        }
    }
    server.stop().await.unwrap();
}
