//! Inbound webhooks against the running server, in both modes (SPEC §3).

mod aws_sns;
mod catalogue;
mod durability;
mod event_log;
mod official;
mod protocol;
mod rotation;
mod verifiers;

use hookgate::verify::{self, VerifierConfig};
use serde_json::{json, Value};

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Headers a sender of `verifier` would send for `body` at `at`, plus its
/// (unsigned) event-name header where the scheme has one.
pub fn signed(
    verifier: &Value,
    secret: &str,
    body: &[u8],
    at: i64,
    msg_id: &str,
) -> Vec<(String, String)> {
    signed_for(verifier, secret, body, "", at, msg_id)
}

/// [`signed`] for a request to `url`, which Twilio, Square and HubSpot sign.
pub fn signed_for(
    verifier: &Value,
    secret: &str,
    body: &[u8],
    url: &str,
    at: i64,
    msg_id: &str,
) -> Vec<(String, String)> {
    let config: VerifierConfig = serde_json::from_value(verifier.clone()).unwrap();
    let mut headers = verify::sign(&config, secret.as_bytes(), body, url, at, msg_id).unwrap();
    match verifier["type"].as_str().unwrap() {
        "github" => headers.push(("X-GitHub-Event".into(), "push".into())),
        "shopify" => headers.push(("X-Shopify-Topic".into(), "orders/create".into())),
        _ => {}
    }
    headers
}

pub fn source_body(verifier: &Value, secret: Option<&str>) -> Value {
    let mut body = json!({"name": "src", "workflow_id": "wf_deploy", "verifier": verifier});
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    body
}

/// One representative configuration per verifier type, with a JSON body whose
/// event id / type the verifier reads.
pub fn verifier_cases() -> Vec<(Value, Vec<u8>)> {
    let event = |id: &str| {
        format!(r#"{{"id":"{id}","type":"payment_intent.succeeded","event_id":"{id}","event":{{"type":"message"}},"n":1}}"#)
            .into_bytes()
    };
    vec![
        (json!({"type": "github"}), event("gh")),
        (json!({"type": "stripe"}), event("evt_stripe")),
        (json!({"type": "standard_webhooks"}), event("sw")),
        (json!({"type": "shopify"}), event("shop")),
        (json!({"type": "slack"}), event("Ev01")),
        (
            json!({"type": "hmac", "header": "X-Signature", "prefix": "sha512=", "algorithm": "sha512",
                   "encoding": "base64", "signed_content": "{timestamp}.{body}",
                   "timestamp_header": "X-Timestamp", "dedup_header": "X-Delivery"}),
            event("hm"),
        ),
        (
            json!({"type": "bearer", "dedup_header": "X-Request-Id"}),
            event("br"),
        ),
    ]
}
