//! The edge against hostile and unusual clients (SPEC §16): whatever one client sends
//! gets a clear 4xx, changes nothing, and costs no other client anything.

mod batch;
mod connections;
mod logging;

use crate::in_both_modes;
use crate::ingress::{now, signed, source_body};
use crate::support::server::{Mode, Reply, TestServer, OPERATOR_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// One hostile request and the answer it must get.
struct Hostile {
    name: &'static str,
    method: Method,
    path: String,
    /// Sent as given (repeats allowed); the operator token is added unless a case
    /// sets Authorization itself.
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    status: StatusCode,
    code: &'static str,
    /// `error.details.field` for 422s.
    field: Option<&'static str>,
}

impl Hostile {
    fn json(name: &'static str, method: Method, path: &str, body: Value) -> Self {
        Self {
            name,
            method,
            path: path.to_owned(),
            headers: vec![("content-type", "application/json".to_owned())],
            body: Some(body.to_string().into_bytes()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            field: None,
        }
    }

    fn get(name: &'static str, path: &str) -> Self {
        Self {
            name,
            method: Method::GET,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            field: None,
        }
    }

    fn expect(
        mut self,
        status: StatusCode,
        code: &'static str,
        field: Option<&'static str>,
    ) -> Self {
        self.status = status;
        self.code = code;
        self.field = field;
        self
    }
}

/// Sends every case through the same client path and checks status, code, field and
/// the envelope's request id.
async fn check_all(server: &TestServer, cases: Vec<Hostile>) {
    for case in cases {
        let mut request = server
            .client()
            .request(case.method.clone(), format!("{}{}", server.url, case.path));
        if !case
            .headers
            .iter()
            .any(|(name, _)| *name == "authorization")
        {
            request = request.bearer_auth(OPERATOR_TOKEN);
        }
        for (name, value) in &case.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &case.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["error"]["code"], case.code, "{}: {body}", case.name);
        assert!(
            body["error"]["request_id"].is_string(),
            "{}: {body}",
            case.name
        );
        if let Some(field) = case.field {
            assert_eq!(
                body["error"]["details"]["field"], field,
                "{}: {body}",
                case.name
            );
        }
    }
}

const STRIPE: &str = r#"{"type": "stripe"}"#;

fn stripe_event(id: &str, event_type: &str) -> Vec<u8> {
    json!({"id": id, "type": event_type, "object": "event", "data": {}})
        .to_string()
        .into_bytes()
}

/// A webhook signed as Stripe signs it, as a hostile case.
fn stripe_case(name: &'static str, source_id: &str, secret: &str, body: Vec<u8>) -> Hostile {
    let verifier: Value = serde_json::from_str(STRIPE).unwrap();
    let headers = signed(&verifier, secret, &body, now(), "unused")
        .into_iter()
        .map(|(name, value)| -> (&'static str, String) {
            (Box::leak(name.to_ascii_lowercase().into_boxed_str()), value)
        })
        .collect();
    Hostile {
        name,
        method: Method::POST,
        path: format!("/v1/ingress/{source_id}"),
        headers,
        body: Some(body),
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "validation_failed",
        field: None,
    }
}

/// Every run of `org`, page by page.
async fn runs_of(server: &TestServer, org: &str) -> Vec<Value> {
    let mut runs = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = server
            .get(
                &format!("/v1/orgs/{org}/runs?limit=200{cursor}"),
                OPERATOR_TOKEN,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        runs.extend(reply.body["data"].as_array().cloned().unwrap_or_default());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return runs,
        }
    }
}

async fn hostile_requests_get_a_4xx_naming_the_problem_and_change_nothing(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier: Value = serde_json::from_str(STRIPE).unwrap();
    let (source_id, secret) = server
        .create_source("acme", source_body(&verifier, None))
        .await;
    let nul = "\u{0}";
    let cases =
        vec![
        Hostile::get("NUL in a path id", "/v1/sources/src_%00"),
        Hostile::get("NUL in an org slug", "/v1/orgs/ac%00me"),
        Hostile::get("NUL in the ingress path", "/v1/ingress/src_%00x"),
        Hostile::get("NUL in a cursor", "/v1/orgs/acme/sources?cursor=%00").expect(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("cursor"),
        ),
        Hostile::json(
            "NUL in an org name",
            Method::POST,
            "/v1/orgs",
            json!({"slug": "nul-org", "name": format!("Ac{nul}me")}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("name")),
        Hostile::json(
            "NUL in a source name",
            Method::POST,
            "/v1/orgs/acme/sources",
            json!({"name": format!("s{nul}"), "workflow_id": "wf", "verifier": {"type": "github"}}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("name")),
        Hostile::json(
            "NUL in an endpoint description",
            Method::POST,
            "/v1/orgs/acme/endpoints",
            json!({"url": "https://example.com/hook", "description": format!("d{nul}")}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("description")),
        Hostile::json(
            "NUL in a run event's run_id",
            Method::POST,
            "/v1/orgs/acme/events",
            json!({"type": "run.completed", "run_id": format!("run_{nul}")}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("run_id")),
        Hostile::json(
            "NUL deep in a run event's data",
            Method::POST,
            "/v1/orgs/acme/events",
            json!({"type": "run.completed", "data": {"out": ["ok", format!("x{nul}")]}}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("data.out[1]")),
        Hostile::json(
            "NUL in a JSON key",
            Method::POST,
            "/v1/orgs/acme/workflows/wf/runs",
            json!({"input": {format!("k{nul}"): 1}}),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("input.k\\u{0}")),
        stripe_case(
            "a signed Stripe event whose id holds NUL",
            &source_id,
            &secret,
            stripe_event(&format!("evt_{nul}1"), "payment_intent.succeeded"),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("dedup_key")),
        stripe_case(
            "a signed Stripe event whose type holds NUL",
            &source_id,
            &secret,
            stripe_event("evt_2", &format!("payment{nul}")),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("event_name")),
        stripe_case(
            "a signed Stripe event with a 2 KiB id",
            &source_id,
            &secret,
            stripe_event(&"x".repeat(2048), "payment_intent.succeeded"),
        )
        .expect(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("dedup_key")),
        Hostile {
            headers: vec![
                ("authorization", format!("Bearer {OPERATOR_TOKEN}")),
                ("authorization", "Bearer wrong".to_owned()),
            ],
            ..Hostile::get("two Authorization headers, operator's first", "/v1/orgs/acme")
        }
        .expect(StatusCode::UNAUTHORIZED, "header_duplicated", None),
        Hostile {
            headers: vec![
                ("authorization", "Bearer wrong".to_owned()),
                ("authorization", format!("Bearer {OPERATOR_TOKEN}")),
            ],
            ..Hostile::get("two Authorization headers, operator's last", "/v1/orgs/acme")
        }
        .expect(StatusCode::UNAUTHORIZED, "header_duplicated", None),
        Hostile {
            method: Method::from_bytes(b"FOOA").unwrap(),
            ..Hostile::get("a made-up method", "/healthz")
        }
        .expect(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
    ];
    check_all(&server, cases).await;

    // Nothing changed: no org, source, endpoint, run or event was made.
    assert_eq!(
        server.get("/v1/orgs/nul-org", OPERATOR_TOKEN).await.status,
        StatusCode::NOT_FOUND
    );
    let sources = server.get("/v1/orgs/acme/sources", OPERATOR_TOKEN).await;
    assert_eq!(sources.body["data"].as_array().map(Vec::len), Some(1));
    let endpoints = server.get("/v1/orgs/acme/endpoints", OPERATOR_TOKEN).await;
    assert_eq!(endpoints.body["data"].as_array().map(Vec::len), Some(0));
    assert!(runs_of(&server, "acme").await.is_empty());

    // A valid webhook after them is accepted as usual.
    let body = stripe_event("evt_ok", "payment_intent.succeeded");
    let headers = signed(&verifier, &secret, &body, now(), "unused");
    let reply = server.send_webhook(&source_id, &headers, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);

    // Metric labels stay in closed sets: the made-up method is `other`.
    let metrics = server
        .client()
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(!text.contains("FOOA"), "{text}");
    assert!(text.contains(r#"method="other""#), "{text}");
    server.stop().await.unwrap();
}

/// One poisoned webhook among fifty good ones, sent together, many times: each good one
/// is accepted, the poisoned one alone is refused.
async fn a_poisoned_webhook_never_fails_the_good_ones_sent_with_it(mode: Mode) {
    // Load shedding is another matter (`runs::faults`): a wait this long never sheds.
    let server = TestServer::start_with(mode, &["--ingress-max-wait=30s"]).await;
    server.create_org("acme").await;
    let verifier: Value = serde_json::from_str(STRIPE).unwrap();
    let (source_id, secret) = server
        .create_source("acme", source_body(&verifier, None))
        .await;
    const ROUNDS: usize = 5;
    const GOOD: usize = 50;
    for round in 0..ROUNDS {
        let mut bodies: Vec<(bool, Vec<u8>)> = (0..GOOD)
            .map(|i| {
                (
                    true,
                    stripe_event(&format!("evt_{round}_{i}"), "charge.succeeded"),
                )
            })
            .collect();
        bodies.insert(
            GOOD / 2,
            (
                false,
                stripe_event(&format!("evt_{round}_\u{0}"), "charge.succeeded"),
            ),
        );
        let replies: Vec<(bool, Reply)> =
            futures_util::future::join_all(bodies.iter().map(|(good, body)| {
                let headers = signed(&verifier, &secret, body, now(), "unused");
                let (server, source_id) = (&server, source_id.as_str());
                async move { (*good, server.send_webhook(source_id, &headers, body).await) }
            }))
            .await;
        for (good, reply) in replies {
            let expected = if good {
                StatusCode::ACCEPTED
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            assert_eq!(reply.status, expected, "round {round}: {}", reply.body);
        }
    }
    assert_eq!(runs_of(&server, "acme").await.len(), ROUNDS * GOOD);
    server.stop().await.unwrap();
}

/// Bodies are bytes (SPEC §16): raw NUL and invalid UTF-8, or `\u0000` inside a JSON
/// string, are accepted as signed and reach the scheduler byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_bodies_with_nul_and_invalid_utf8_are_published_byte_for_byte() {
    use base64::Engine;
    let server = TestServer::start(Mode::Production).await;
    let mut consumer =
        crate::support::consumer::RunsConsumer::bind(server.exchange_prefix.as_deref().unwrap())
            .await;
    server.create_org("acme").await;
    let github = json!({"type": "github"});
    let (source_id, secret) = server
        .create_source("acme", source_body(&github, None))
        .await;
    let raw: &[u8] = b"\x00raw \xff\xfe bytes\x00";
    let json_with_nul: &[u8] = br#"{"note":"a\u0000b","ref":"refs/heads/main"}"#;
    for (n, body) in [raw, json_with_nul].into_iter().enumerate() {
        let headers = signed(&github, &secret, body, now(), &format!("bytes-{n}"));
        let reply = server.send_webhook(&source_id, &headers, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let message = consumer
            .next(std::time::Duration::from_secs(10))
            .await
            .expect("published");
        assert_eq!(message.message_id, reply.body["run_id"].as_str().unwrap());
        match message.body["input"]["raw_base64"].as_str() {
            Some(encoded) => assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap(),
                body
            ),
            None => assert_eq!(message.body["input"]["note"], "a\u{0}b"),
        }
    }
    server.stop().await.unwrap();
}

in_both_modes!(
    hostile_requests_get_a_4xx_naming_the_problem_and_change_nothing,
    a_poisoned_webhook_never_fails_the_good_ones_sent_with_it,
);
