//! The catalogue's symmetric-key senders (SPEC §3.4) end to end: a request as each
//! sender sends it is accepted once, recorded under the sender's de-dup key and event
//! name, a repeat is a duplicate, and a forgery or an unsigned request is refused.

use super::{now, source_body};
use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use hookgate::verify::{self, VerifierConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

in_both_modes!(each_catalogue_sender_is_recorded_under_its_dedup_key_and_event_name);

/// A sender's request: its verifier, a body shaped as it sends one, the unsigned
/// headers it adds, and the de-dup key and event name hookgate must record.
struct Sender {
    verifier: Value,
    body: String,
    extra: Vec<(&'static str, &'static str)>,
    dedup_key: &'static str,
    event_name: &'static str,
}

fn senders(at: i64) -> Vec<Sender> {
    let sender = |verifier: Value, body: String, extra, dedup_key, event_name| Sender {
        verifier,
        body,
        extra,
        dedup_key,
        event_name,
    };
    vec![
        // GitLab's delivery id is the signed msg id (`Idempotency-Key`).
        sender(
            json!({"type": "gitlab"}),
            r#"{"object_kind":"push"}"#.to_owned(),
            vec![("X-Gitlab-Event", "Push Hook")],
            "msg_gitlab",
            "Push Hook",
        ),
        sender(
            json!({"type": "linear"}),
            format!(
                r#"{{"action":"create","type":"Issue","data":{{"id":"i1"}},"webhookTimestamp":{}}}"#,
                at * 1000
            ),
            vec![],
            "msg_linear",
            "Issue",
        ),
        sender(
            json!({"type": "intercom"}),
            r#"{"type":"notification_event","id":"notif_1","topic":"conversation.user.created"}"#
                .to_owned(),
            vec![],
            "notif_1",
            "conversation.user.created",
        ),
        sender(
            json!({"type": "pagerduty"}),
            r#"{"event":{"id":"01PD","event_type":"incident.triggered","data":{}}}"#.to_owned(),
            vec![],
            "01PD",
            "incident.triggered",
        ),
        sender(
            json!({"type": "typeform"}),
            r#"{"event_id":"01TF","event_type":"form_response","form_response":{}}"#.to_owned(),
            vec![],
            "01TF",
            "form_response",
        ),
        sender(
            json!({"type": "atlassian"}),
            r#"{"webhookEvent":"jira:issue_created","issue":{"key":"HG-1"}}"#.to_owned(),
            vec![],
            "msg_atlassian",
            "jira:issue_created",
        ),
        sender(
            json!({"type": "paddle", "tolerance_s": 60}),
            r#"{"event_id":"evt_01pd","event_type":"transaction.completed","data":{}}"#.to_owned(),
            vec![],
            "evt_01pd",
            "transaction.completed",
        ),
        sender(
            json!({"type": "zendesk"}),
            r#"{"type":"zen:event-type:ticket.created","id":"z1"}"#.to_owned(),
            vec![],
            "msg_zendesk",
            "zen:event-type:ticket.created",
        ),
        sender(
            json!({"type": "mailgun"}),
            r#"{"event-data":{"event":"delivered","id":"mg1"}}"#.to_owned(),
            vec![],
            "mg1",
            "delivered",
        ),
    ]
}

/// What the sender sends: the signed headers plus its unsigned ones, and the body
/// (Mailgun's with its signature put in).
fn request(sender: &Sender, secret: &str, at: i64) -> (Vec<(String, String)>, Vec<u8>) {
    let config: VerifierConfig = serde_json::from_value(sender.verifier.clone()).unwrap();
    let kind = config.kind().as_str();
    let msg_id = format!("msg_{kind}");
    let body = sender.body.as_bytes();
    // None of these senders signs the URL it calls.
    let mut headers = verify::sign(&config, secret.as_bytes(), body, "", at, &msg_id).unwrap();
    headers.extend(
        sender
            .extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let signed_body = verify::sign_body(&config, secret.as_bytes(), body, at, &msg_id).unwrap();
    (headers, signed_body.unwrap_or_else(|| body.to_vec()))
}

async fn each_catalogue_sender_is_recorded_under_its_dedup_key_and_event_name(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let at = now();
    for sender in senders(at) {
        let kind = sender.verifier["type"].as_str().unwrap().to_owned();
        let (source_id, secret) = server
            .create_source("acme", source_body(&sender.verifier, None))
            .await;
        let (headers, body) = request(&sender, &secret, at);

        let accepted = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(
            accepted.status,
            StatusCode::ACCEPTED,
            "{kind}: {}",
            accepted.body
        );
        let again = server.send_webhook(&source_id, &headers, &body).await;
        assert_eq!(again.body["duplicate"], true, "{kind}: {}", again.body);
        assert_eq!(again.body["run_id"], accepted.body["run_id"], "{kind}");

        let path = format!(
            "/v1/orgs/acme/ingress-events?source_id={source_id}&dedup_key={}",
            sender.dedup_key
        );
        let found = server.get(&path, OPERATOR_TOKEN).await;
        assert_eq!(found.status, StatusCode::OK, "{kind}: {}", found.body);
        let row = &found.body["data"][0];
        assert_eq!(
            row["id"], accepted.body["event_id"],
            "{kind}: {}",
            found.body
        );
        assert_eq!(row["event_name"], sender.event_name, "{kind}");

        // A forgery: the body changed under Linear's, Intercom's, … signature; for
        // Mailgun, whose signature covers its token and not the event, the token.
        let mut forged = body.clone();
        if kind == "mailgun" {
            let text = String::from_utf8(forged).unwrap();
            forged = text
                .replace(r#""token":"msg_"#, r#""token":"msh_"#)
                .into_bytes();
        } else if kind == "gitlab" {
            // A token covers no body: a wrong token is GitLab's forgery.
            let wrong = [("X-Gitlab-Token".to_owned(), "not-the-token".to_owned())];
            let refused = server.send_webhook(&source_id, &wrong, &body).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{kind}");
        } else {
            forged.splice(1..1, br#""x":1,"#.iter().copied());
        }
        if kind != "gitlab" {
            let refused = server.send_webhook(&source_id, &headers, &forged).await;
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "{kind}: {}",
                refused.body
            );
        }
        let unsigned = server
            .send_webhook(&source_id, &[], sender.body.as_bytes())
            .await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED, "{kind}");
        assert!(!unsigned.body.to_string().contains(&secret), "{kind}");
    }
    server.stop().await.unwrap();
}
