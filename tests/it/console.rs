//! The console over HTTP as a browser speaks it: forms, a session cookie, redirects.
//! (The browser tests drive the same pages in Chromium.)

use crate::in_both_modes;
use crate::ingress::{signed, source_body};
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::TestServer;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Response, StatusCode};
use serde_json::json;

in_both_modes!(
    signing_in_opens_a_strict_http_only_session_and_signing_out_ends_it,
    console_pages_carry_csp_and_frame_headers_and_serve_their_own_assets,
    a_wrong_token_or_a_cross_site_sign_in_opens_no_session,
    an_api_key_session_ends_when_the_key_is_revoked,
    a_key_sees_only_its_org_and_only_with_the_scope,
    source_page_shows_secrets_events_and_rejections_but_no_secret_value,
    event_page_shows_lineage_headers_and_body_and_replays_into_a_new_run,
    a_read_only_key_gets_no_replay_button_and_a_forged_replay_is_refused,
    search_finds_a_page_from_any_id,
    rotating_shows_the_new_secret_once_and_expiring_stops_the_old_one,
    run_pages_list_by_status_show_the_timeline_and_cancel_and_retry,
    the_console_stream_sends_every_event_type_as_a_plain_message,
    api_keys_are_minted_shown_once_and_revoked_and_the_audit_log_lists_it,
    endpoint_pages_show_deliveries_and_attempts_and_retry_makes_a_new_attempt,
    endpoint_actions_disable_enable_recover_and_rotate,
    overview_counts_each_sources_outcomes_and_each_endpoints_attempts_over_the_last_hour,
    a_sources_events_page_by_cursor_from_newest_to_oldest,
    an_address_with_ten_failed_sign_ins_is_refused_for_a_while,
);

async fn trigger_run(server: &TestServer) -> String {
    let reply = server
        .post(
            "/v1/orgs/acme/workflows/wf_deploy/runs",
            OPERATOR_TOKEN,
            json!({"input": {"n": 1}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["run"]["id"].as_str().unwrap().to_owned()
}

async fn report(server: &TestServer, run_id: &str, event_type: &str) {
    let reply = server
        .post(
            "/v1/orgs/acme/events",
            OPERATOR_TOKEN,
            json!({"type": event_type, "run_id": run_id, "workflow_id": "wf_deploy",
                   "data": {"step": event_type}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

/// An org with a GitHub source and one accepted webhook; returns (source id, event id,
/// run id, the sender's delivery id).
async fn one_accepted_event(server: &TestServer) -> (String, String, String, String) {
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let secret = "console-event-secret-0123456789";
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(secret)))
        .await;
    let body = br#"{"ref":"refs/heads/main","pusher":{"name":"octocat"}}"#;
    let delivery = "9a4e1f00-0000-4000-8000-0000000e7e47".to_owned();
    let accepted = server
        .send_webhook(
            &source_id,
            &signed(
                &verifier,
                secret,
                body,
                chrono::Utc::now().timestamp(),
                &delivery,
            ),
            body,
        )
        .await;
    assert!(accepted.status.is_success(), "{}", accepted.body);
    (
        source_id,
        accepted.body["event_id"].as_str().unwrap().to_owned(),
        accepted.body["run"]["id"].as_str().unwrap().to_owned(),
        delivery,
    )
}

/// A browser without a cookie jar of its own: the tests carry the cookie by hand so
/// they can see exactly what is set.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.url.clone(),
            cookie: None,
        }
    }

    async fn get(&self, path: &str) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    /// Signs in; returns the `Set-Cookie` header the sign-in answered with.
    async fn sign_in(&mut self, token: &str) -> String {
        let response = self
            .post_form("/console/sign-in", &[("token", token)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/console");
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        self.cookie = Some(pair);
        set_cookie
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.text().await.unwrap())
    }
}

fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn redirects_to_sign_in(response: &Response) -> bool {
    response.status() == StatusCode::SEE_OTHER && response.headers()[LOCATION] == "/console/sign-in"
}

async fn signing_in_opens_a_strict_http_only_session_and_signing_out_ends_it(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let mut browser = Browser::new(&server);
    assert!(redirects_to_sign_in(&browser.get("/console").await));
    let (status, form) = browser.page("/console/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"type="password""#), "{form}");

    let set_cookie = browser.sign_in(OPERATOR_TOKEN).await;
    assert!(
        set_cookie.starts_with("hookgate_console=hgs_"),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // Served over plain http in the tests: no Secure flag to keep the cookie from it.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let (status, overview) = browser.page("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(overview.contains("/console/orgs/acme"), "{overview}");
    assert!(overview.contains("Outbox backlog"), "{overview}");
    assert!(!overview.contains(OPERATOR_TOKEN));

    let csrf = csrf_of(&overview);
    let forged = browser
        .post_form("/console/sign-out", &[("csrf", "not-the-token")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.page("/console").await.0, StatusCode::OK);

    let signed_out = browser
        .post_form("/console/sign-out", &[("csrf", &csrf)])
        .await;
    assert!(redirects_to_sign_in(&signed_out));
    let cleared = signed_out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie is worth nothing now, on any instance: the session is gone.
    assert!(redirects_to_sign_in(&browser.get("/console").await));
    server.stop().await.unwrap();
}

async fn console_pages_carry_csp_and_frame_headers_and_serve_their_own_assets(mode: Mode) {
    let server = TestServer::start(mode).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    for path in [
        "/console",
        "/console/sign-in",
        "/console/assets/console.js",
        "/console/assets/console.css",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
    }
    let page = browser.page("/console").await.1;
    // Nothing from another origin and no inline script: the CSP would block either.
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    assert!(page.contains(r#"<script src="/console/assets/console.js" defer></script>"#));
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    let script = browser.get("/console/assets/console.js").await;
    assert!(script.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    server.stop().await.unwrap();
}

async fn a_wrong_token_or_a_cross_site_sign_in_opens_no_session(mode: Mode) {
    let server = TestServer::start(mode).await;
    let browser = Browser::new(&server);
    let wrong = browser
        .post_form("/console/sign-in", &[("token", "hg_not-a-key")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("not the operator token"));

    let cross_site = browser
        .client
        .post(format!("{}/console/sign-in", server.url))
        .header("origin", "https://evil.example")
        .form(&[("token", OPERATOR_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(cross_site.headers().get(SET_COOKIE).is_none());

    // A made-up cookie signs nobody in.
    let mut guesser = Browser::new(&server);
    guesser.cookie = Some("hookgate_console=hgs_0000".into());
    assert!(redirects_to_sign_in(&guesser.get("/console").await));
    server.stop().await.unwrap();
}

async fn an_api_key_session_ends_when_the_key_is_revoked(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let minted = server
        .post(
            "/v1/orgs/acme/api-keys",
            OPERATOR_TOKEN,
            json!({"name": "on-call", "scopes": ["source:read"]}),
        )
        .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.body);
    let (id, token) = (
        minted.body["id"].as_str().unwrap().to_owned(),
        minted.body["key"].as_str().unwrap().to_owned(),
    );
    let mut browser = Browser::new(&server);
    browser.sign_in(&token).await;
    let (status, page) = browser.page("/console/orgs/acme").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("on-call ({id})")), "{page}");
    assert!(!page.contains(&token));

    let revoked = server
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    assert!(redirects_to_sign_in(
        &browser.get("/console/orgs/acme").await
    ));
    server.stop().await.unwrap();
}

async fn a_key_sees_only_its_org_and_only_with_the_scope(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    server.create_org("other").await;
    let runs_only = server.mint_key("acme", &["run:read"]).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(&runs_only).await;
    let (status, overview) = browser.page("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(overview.contains("/console/orgs/acme"), "{overview}");
    assert!(!overview.contains("/console/orgs/other"), "{overview}");
    // The outbox is the instance's, the operator's to see.
    assert!(!overview.contains("Outbox backlog"), "{overview}");
    assert!(overview.contains("no source:read"), "{overview}");
    let (status, page) = browser.page("/console/orgs/acme").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("lacks the scope"), "{page}");
    assert_eq!(
        browser.page("/console/orgs/other").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.page("/console/orgs/nope").await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await.unwrap();
}

async fn source_page_shows_secrets_events_and_rejections_but_no_secret_value(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let secret = "console-test-secret-value-0123";
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(secret)))
        .await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let now = chrono::Utc::now().timestamp();
    let delivery = "7d1c3b2a-0000-4000-8000-00000000c0de";
    let accepted = server
        .send_webhook(
            &source_id,
            &signed(&verifier, secret, body, now, delivery),
            body,
        )
        .await;
    assert!(accepted.status.is_success(), "{}", accepted.body);
    let forged = signed(
        &verifier,
        "wrong-secret",
        body,
        now,
        "7d1c3b2a-0000-4000-8000-0000000000ff",
    );
    let refused = server.send_webhook(&source_id, &forged, body).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let (status, list) = browser.page("/console/orgs/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains(&format!("/console/orgs/acme/sources/{source_id}")),
        "{list}"
    );
    let (status, page) = browser
        .page(&format!("/console/orgs/acme/sources/{source_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("/v1/ingress/{source_id}")), "{page}");
    assert!(page.contains(delivery), "{page}");
    assert!(page.contains("accepted"), "{page}");
    assert!(page.contains("signature_invalid"), "{page}");
    let secrets = server
        .get(&format!("/v1/sources/{source_id}/secrets"), OPERATOR_TOKEN)
        .await;
    let fingerprint = secrets.body["data"][0]["fingerprint"].as_str().unwrap();
    assert!(page.contains(fingerprint), "{page}");
    assert!(
        !page.contains(secret),
        "the secret's value is never shown again"
    );
    assert_eq!(
        browser
            .page("/console/orgs/acme/sources/src_does_not_exist")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    server.stop().await.unwrap();
}

async fn event_page_shows_lineage_headers_and_body_and_replays_into_a_new_run(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (_, event_id, run_id, delivery) = one_accepted_event(&server).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let (status, page) = browser.page(&format!("/console/events/{event_id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for expected in [
        run_id.as_str(),
        delivery.as_str(),
        "x-hub-signature-256",
        "[redacted]",
        // The JSON body, indented for reading (and escaped as HTML).
        "&#34;pusher&#34;: {",
        "Replay as a new run",
    ] {
        assert!(page.contains(expected), "{expected} missing: {page}");
    }
    assert!(
        !page.contains("sha256="),
        "a signature value is on the page"
    );

    let csrf = csrf_of(&page);
    let replayed = browser
        .post_form(
            &format!("/console/events/{event_id}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    let location = replayed.headers()[LOCATION].to_str().unwrap().to_owned();
    let new_run = location.split("replayed=").nth(1).unwrap().to_owned();
    assert!(
        new_run.starts_with("run_") && new_run != run_id,
        "{location}"
    );
    let (_, after) = browser.page(&location).await;
    assert!(
        after.contains(&format!("Replayed as run <code>{new_run}</code>")),
        "{after}"
    );
    // The same replay as the API's: a run of its own, and the audit entry.
    let run = server
        .get(&format!("/v1/runs/{new_run}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    assert_eq!(
        audit.body["data"][0]["action"], "ingress_event.replayed",
        "{}",
        audit.body
    );
    assert_eq!(audit.body["data"][0]["actor"], "operator");
    server.stop().await.unwrap();
}

async fn a_read_only_key_gets_no_replay_button_and_a_forged_replay_is_refused(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (_, event_id, _, _) = one_accepted_event(&server).await;
    let reader = server.mint_key("acme", &["source:read"]).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(&reader).await;
    let (status, page) = browser.page(&format!("/console/events/{event_id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("Replay as a new run"), "{page}");
    // With the session's own CSRF token: the scope check still refuses it.
    let forged = browser
        .post_form(
            &format!("/console/events/{event_id}/replay"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    assert!(
        !audit.body.to_string().contains("ingress_event.replayed"),
        "{}",
        audit.body
    );
    server.stop().await.unwrap();
}

async fn search_finds_a_page_from_any_id(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (source_id, event_id, run_id, delivery) = one_accepted_event(&server).await;
    server.create_org("other").await;
    let (endpoint_id, _) =
        crate::hooks::endpoint(&server, "https://backend.example.com/hooks", json!({})).await;
    report(&server, &run_id, "run.started").await;
    let delivery_id = crate::hooks::deliveries(&server, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let event_page = format!("/console/events/{event_id}");
    for (query, expected) in [
        (
            endpoint_id.as_str(),
            format!("/console/endpoints/{endpoint_id}"),
        ),
        (
            delivery_id.as_str(),
            format!("/console/deliveries/{delivery_id}"),
        ),
        (event_id.as_str(), event_page.clone()),
        (run_id.as_str(), format!("/console/runs/{run_id}")),
        (delivery.as_str(), event_page.clone()),
        (
            source_id.as_str(),
            format!("/console/orgs/acme/sources/{source_id}"),
        ),
    ] {
        let found = browser.get(&format!("/console/search?q={query}")).await;
        assert_eq!(found.status(), StatusCode::SEE_OTHER, "{query}");
        assert_eq!(found.headers()[LOCATION], expected.as_str(), "{query}");
    }
    let (status, nothing) = browser.page("/console/search?q=no-such-id").await;
    assert_eq!(status, StatusCode::OK);
    assert!(nothing.contains("Nothing found"), "{nothing}");

    // Another org's key finds nothing of acme's, not even by its exact ids.
    let outsider = server.mint_key("other", &["source:read"]).await;
    let mut other = Browser::new(&server);
    other.sign_in(&outsider).await;
    for query in [
        event_id.as_str(),
        run_id.as_str(),
        delivery.as_str(),
        endpoint_id.as_str(),
        delivery_id.as_str(),
    ] {
        let (status, page) = other.page(&format!("/console/search?q={query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(page.contains("Nothing found"), "{query}: {page}");
    }
    assert_eq!(other.page(&event_page).await.0, StatusCode::NOT_FOUND);
    server.stop().await.unwrap();
}

async fn rotating_shows_the_new_secret_once_and_expiring_stops_the_old_one(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let old = "console-rotate-old-secret-0123456789";
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(old)))
        .await;
    let source_page = format!("/console/orgs/acme/sources/{source_id}");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let send = |secret: String, n: u32| {
        let headers = signed(
            &verifier,
            &secret,
            body,
            chrono::Utc::now().timestamp(),
            &format!("0c0ffee0-0000-4000-8000-{n:012}"),
        );
        let (server, source_id) = (&server, source_id.clone());
        async move { server.send_webhook(&source_id, &headers, body).await.status }
    };

    // A key that may read but not rotate sees no buttons, and a forged rotate fails.
    let reader = server.mint_key("acme", &["source:read"]).await;
    let mut reading = Browser::new(&server);
    reading.sign_in(&reader).await;
    let (_, page) = reading.page(&source_page).await;
    assert!(
        !page.contains("Rotate secret") && !page.contains("Expire now"),
        "{page}"
    );
    let forged = reading
        .post_form(
            &format!("{source_page}/secrets/rotate"),
            &[("csrf", &csrf_of(&page)), ("grace_hours", "24")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let (_, page) = browser.page(&source_page).await;
    assert!(page.contains("Rotate secret"), "{page}");
    let rotated = browser
        .post_form(
            &format!("{source_page}/secrets/rotate"),
            &[("csrf", &csrf_of(&page)), ("grace_hours", "24")],
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let shown = rotated.text().await.unwrap();
    let marker = r#"<code class="secret">"#;
    let start = shown.find(marker).expect("the new secret") + marker.len();
    let new = shown[start..].split('<').next().unwrap().to_owned();
    assert!(new.len() >= 32, "{new}");
    assert!(!shown.contains(old));
    // Both verify during the grace period; the source page never shows the new value.
    assert_eq!(send(new.clone(), 1).await, StatusCode::ACCEPTED);
    assert_eq!(send(old.to_owned(), 2).await, StatusCode::ACCEPTED);
    let (_, page) = browser.page(&source_page).await;
    assert!(!page.contains(&new), "the new secret is shown again");
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    assert_eq!(
        audit.body["data"][0]["action"], "secret_rotated",
        "{}",
        audit.body
    );

    // Expire the old one at once: it stops verifying, the new one goes on.
    let secrets = server
        .get(&format!("/v1/sources/{source_id}/secrets"), OPERATOR_TOKEN)
        .await;
    let old_id = secrets.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !s["expires_at"].is_null())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .unwrap();
    let expired = browser
        .post_form(
            &format!("{source_page}/secrets/{old_id}/expire"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(expired.headers()[LOCATION], source_page.as_str());
    assert_eq!(send(old.to_owned(), 3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(new, 4).await, StatusCode::ACCEPTED);
    server.stop().await.unwrap();
}

async fn run_pages_list_by_status_show_the_timeline_and_cancel_and_retry(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let running = trigger_run(&server).await;
    let failing = trigger_run(&server).await;
    report(&server, &running, "run.started").await;
    report(&server, &failing, "run.started").await;
    report(&server, &failing, "run.failed").await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let failed_listed = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let browser = &browser;
        let failing = failing.clone();
        async move {
            let (_, page) = browser.page("/console/orgs/acme/runs?status=failed").await;
            page.contains(&failing)
        }
    })
    .await;
    assert!(failed_listed, "the failed run is not listed as failed");
    let (_, failed_only) = browser.page("/console/orgs/acme/runs?status=failed").await;
    assert!(!failed_only.contains(&running), "{failed_only}");

    let (status, page) = browser.page(&format!("/console/runs/{running}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("run.started"), "{page}");
    assert!(
        page.contains("Cancel run") && !page.contains("Retry as a new run"),
        "{page}"
    );
    let cancelled = browser
        .post_form(
            &format!("/console/runs/{running}/cancel"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let (_, after) = browser
        .page(cancelled.headers()[LOCATION].to_str().unwrap())
        .await;
    assert!(after.contains("Cancel requested"), "{after}");
    let run = server
        .get(&format!("/v1/runs/{running}"), OPERATOR_TOKEN)
        .await;
    assert!(!run.body["cancel_requested_at"].is_null(), "{}", run.body);

    let (_, failed_page) = browser.page(&format!("/console/runs/{failing}")).await;
    assert!(failed_page.contains("Retry as a new run"), "{failed_page}");
    let retried = browser
        .post_form(
            &format!("/console/runs/{failing}/retry"),
            &[("csrf", &csrf_of(&failed_page))],
        )
        .await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    let new_run = retried.headers()[LOCATION]
        .to_str()
        .unwrap()
        .trim_start_matches("/console/runs/")
        .to_owned();
    let (_, new_page) = browser.page(&format!("/console/runs/{new_run}")).await;
    assert!(
        new_page.contains(&format!("/console/runs/{failing}")),
        "{new_page}"
    );
    let api = server
        .get(&format!("/v1/runs/{new_run}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(
        api.body["trigger"]["retry_of"],
        failing.as_str(),
        "{}",
        api.body
    );

    // A key that may read runs sees neither button, and its forged cancel is refused.
    let reader = server.mint_key("acme", &["run:read"]).await;
    let mut reading = Browser::new(&server);
    reading.sign_in(&reader).await;
    let (_, page) = reading.page(&format!("/console/runs/{failing}")).await;
    assert!(!page.contains("Retry as a new run"), "{page}");
    let forged = reading
        .post_form(
            &format!("/console/runs/{failing}/retry"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    server.stop().await.unwrap();
}

async fn the_console_stream_sends_every_event_type_as_a_plain_message(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let run_id = trigger_run(&server).await;
    report(&server, &run_id, "run.started").await;
    report(&server, &run_id, "run.step_retried").await;
    report(&server, &run_id, "run.completed").await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    // The stream ends after the terminal event, so the whole body can be read.
    let response = browser
        .get(&format!("/console/runs/{run_id}/events?after=1"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = tokio::time::timeout(std::time::Duration::from_secs(10), response.text())
        .await
        .expect("the stream ends after run.completed")
        .unwrap();
    assert!(!text.contains("event:"), "{text}");
    assert!(text.contains("id: 2") && text.contains("id: 3"), "{text}");
    assert!(!text.contains("id: 1\n"), "{text}");
    assert!(text.contains("run.step_retried"), "{text}");
    // Without a session: the sign-in page, not the stream.
    let anonymous = Browser::new(&server)
        .get(&format!("/console/runs/{run_id}/events"))
        .await;
    assert!(redirects_to_sign_in(&anonymous));
    server.stop().await.unwrap();
}

async fn api_keys_are_minted_shown_once_and_revoked_and_the_audit_log_lists_it(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let (status, page) = browser.page("/console/orgs/acme/api-keys").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = csrf_of(&page);
    let none = browser
        .post_form(
            "/console/orgs/acme/api-keys",
            &[("csrf", &csrf), ("name", "no scopes")],
        )
        .await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let minted = browser
        .post_form(
            "/console/orgs/acme/api-keys",
            &[
                ("csrf", &csrf),
                ("name", "on-call"),
                ("scope", "run:read"),
                ("scope", "audit:read"),
            ],
        )
        .await;
    assert_eq!(minted.status(), StatusCode::OK);
    let shown = minted.text().await.unwrap();
    let marker = r#"<code class="secret">"#;
    let start = shown.find(marker).expect("the new key") + marker.len();
    let key = shown[start..].split('<').next().unwrap().to_owned();
    assert!(key.starts_with("hg_"), "{key}");
    assert!(shown.contains("run:read, audit:read") || shown.contains("audit:read, run:read"));
    let (_, again) = browser.page("/console/orgs/acme/api-keys").await;
    assert!(!again.contains(&key), "the key is shown again");
    assert_eq!(
        server.get("/v1/orgs/acme/runs", &key).await.status,
        StatusCode::OK
    );

    // The key itself may read the audit log but not manage keys.
    let mut holder = Browser::new(&server);
    holder.sign_in(&key).await;
    let (status, audit) = holder.page("/console/orgs/acme/audit").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert!(
        audit.contains("api_key_minted") && audit.contains("org_created"),
        "{audit}"
    );
    assert_eq!(
        holder.page("/console/orgs/acme/api-keys").await.0,
        StatusCode::FORBIDDEN
    );

    let id_marker = "New key <code>";
    let start = shown.find(id_marker).unwrap() + id_marker.len();
    let id = shown[start..].split('<').next().unwrap().to_owned();
    let revoked = browser
        .post_form(
            &format!("/console/api-keys/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(revoked.headers()[LOCATION], "/console/orgs/acme/api-keys");
    assert_eq!(
        server.get("/v1/orgs/acme/runs", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(redirects_to_sign_in(&holder.get("/console").await));
    let (_, after) = browser.page("/console/orgs/acme/api-keys").await;
    assert!(after.contains("revoked"), "{after}");
    server.stop().await.unwrap();
}

async fn endpoint_pages_show_deliveries_and_attempts_and_retry_makes_a_new_attempt(mode: Mode) {
    use crate::hooks::{endpoint, ALLOW_LOOPBACK};
    use crate::support::receiver::TestReceiver;
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    // The first attempt fails with a 500 the console must show; the retry succeeds.
    receiver.answer(&[500]);
    let (endpoint_id, secret) =
        endpoint(&server, &receiver.url, json!({"retry_schedule": "0s"})).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let (status, list) = browser.page("/console/orgs/acme/endpoints").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.contains(&endpoint_id) && list.contains("healthy"),
        "{list}"
    );

    let page_path = format!("/console/endpoints/{endpoint_id}");
    let (_, page) = browser.page(&page_path).await;
    assert!(!page.contains(&secret), "the signing secret is on the page");
    let tested = browser
        .post_form(&format!("{page_path}/test"), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(tested.status(), StatusCode::SEE_OTHER);
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let failed = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let browser = &browser;
        let page_path = page_path.clone();
        async move {
            let (_, page) = browser.page(&format!("{page_path}?status=failed")).await;
            page.contains("endpoint.test")
        }
    })
    .await;
    assert!(failed, "the failed test delivery is not listed as failed");
    let (_, failed_page) = browser.page(&format!("{page_path}?status=failed")).await;
    let marker = "/console/deliveries/";
    let start = failed_page.find(marker).unwrap() + marker.len();
    let delivery_id = failed_page[start..].split('"').next().unwrap().to_owned();

    let delivery_path = format!("/console/deliveries/{delivery_id}");
    let (_, delivery) = browser.page(&delivery_path).await;
    assert!(delivery.contains("Attempt 1: HTTP 500"), "{delivery}");
    assert!(delivery.contains("webhook-signature"), "{delivery}");
    assert!(!delivery.contains(&secret), "{delivery}");
    let retried = browser
        .post_form(
            &format!("{delivery_path}/retry"),
            &[("csrf", &csrf_of(&delivery))],
        )
        .await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    receiver
        .wait_for(2, std::time::Duration::from_secs(10))
        .await;
    let second = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let browser = &browser;
        let delivery_path = delivery_path.clone();
        async move {
            let (_, page) = browser.page(&delivery_path).await;
            page.contains("Attempt 2: HTTP 200")
        }
    })
    .await;
    assert!(second, "the retry made no second attempt");

    // A key with delivery:read alone sees the attempts but no retry, and a forged one fails.
    let reader = server
        .mint_key("acme", &["endpoint:read", "delivery:read"])
        .await;
    let mut reading = Browser::new(&server);
    reading.sign_in(&reader).await;
    let (_, page) = reading.page(&delivery_path).await;
    assert!(
        page.contains("Attempt 2") && !page.contains("Retry now"),
        "{page}"
    );
    let forged = reading
        .post_form(
            &format!("{delivery_path}/retry"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (_, endpoint_page) = reading.page(&page_path).await;
    assert!(
        !endpoint_page.contains("Send a test event"),
        "{endpoint_page}"
    );
    server.stop().await.unwrap();
}

async fn endpoint_actions_disable_enable_recover_and_rotate(mode: Mode) {
    use crate::hooks::{endpoint, ALLOW_LOOPBACK};
    use crate::support::receiver::TestReceiver;
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(&[503]);
    let (endpoint_id, old_secret) =
        endpoint(&server, &receiver.url, json!({"retry_schedule": "0s"})).await;
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let page_path = format!("/console/endpoints/{endpoint_id}");
    let (_, page) = browser.page(&page_path).await;
    let csrf = csrf_of(&page);

    // One failed delivery, then recover it: a second attempt, now answered 200.
    let tested = browser
        .post_form(&format!("{page_path}/test"), &[("csrf", &csrf)])
        .await;
    assert_eq!(tested.status(), StatusCode::SEE_OTHER);
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let failed = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let browser = &browser;
        let path = format!("{page_path}?status=failed");
        async move { browser.page(&path).await.1.contains("endpoint.test") }
    })
    .await;
    assert!(failed);
    let recovered = browser
        .post_form(
            &format!("{page_path}/recover"),
            &[("csrf", &csrf), ("hours", "24")],
        )
        .await;
    assert_eq!(recovered.status(), StatusCode::SEE_OTHER);
    let (_, notice) = browser
        .page(recovered.headers()[LOCATION].to_str().unwrap())
        .await;
    assert!(
        notice.contains("1 failed deliveries are due again"),
        "{notice}"
    );
    receiver
        .wait_for(2, std::time::Duration::from_secs(10))
        .await;

    // Disable, then enable: the API sees the same state.
    let disabled = browser
        .post_form(
            &format!("{page_path}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    let api = server
        .get(&format!("/v1/endpoints/{endpoint_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(api.body["enabled"], false, "{}", api.body);
    let (_, page) = browser.page(&page_path).await;
    assert!(page.contains(">Enable</button>"), "{page}");
    browser
        .post_form(
            &format!("{page_path}/enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    let api = server
        .get(&format!("/v1/endpoints/{endpoint_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(api.body["enabled"], true, "{}", api.body);

    // Rotate the signing secret: shown once, never the old one.
    let rotated = browser
        .post_form(
            &format!("{page_path}/secrets/rotate"),
            &[("csrf", &csrf), ("grace_hours", "24")],
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let shown = rotated.text().await.unwrap();
    let marker = r#"<code class="secret">"#;
    let start = shown.find(marker).expect("the new secret") + marker.len();
    let new_secret = shown[start..].split('<').next().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != old_secret);
    assert!(!shown.contains(&old_secret));
    let (_, page) = browser.page(&page_path).await;
    assert!(!page.contains(&new_secret), "the new secret is shown again");
    let secrets = server
        .get(
            &format!("/v1/endpoints/{endpoint_id}/secrets"),
            OPERATOR_TOKEN,
        )
        .await;
    assert_eq!(
        secrets.body["data"].as_array().unwrap().len(),
        2,
        "{}",
        secrets.body
    );
    server.stop().await.unwrap();
}

/// The numbers in the table row that links to `href`, in column order.
fn row_counts(html: &str, href: &str) -> Vec<u64> {
    let start = html
        .find(&format!("href=\"{href}\""))
        .unwrap_or_else(|| panic!("no row links to {href}: {html}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td class=\"num\">")
        .skip(1)
        .map(|cell| cell.split('<').next().unwrap().trim().parse().unwrap())
        .collect()
}

async fn overview_counts_each_sources_outcomes_and_each_endpoints_attempts_over_the_last_hour(
    mode: Mode,
) {
    use crate::hooks::{endpoint, ALLOW_LOOPBACK};
    use crate::support::receiver::TestReceiver;
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let secret = "console-overview-secret-0123456789";
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(secret)))
        .await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let now = chrono::Utc::now().timestamp();
    let delivery = "5b0e0c1a-0000-4000-8000-00000000beef";
    let request = signed(&verifier, secret, body, now, delivery);
    for expected in [StatusCode::ACCEPTED, StatusCode::OK] {
        let reply = server.send_webhook(&source_id, &request, body).await;
        assert_eq!(reply.status, expected, "{}", reply.body);
    }
    for n in 0..3 {
        let forged = signed(&verifier, "wrong", body, now, &format!("forged-{n}"));
        let reply = server.send_webhook(&source_id, &forged, body).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }

    let receiver = TestReceiver::start().await;
    receiver.answer(&[500]);
    let (endpoint_id, _) = endpoint(&server, &receiver.url, json!({"retry_schedule": "0s"})).await;
    let sent = server
        .post(
            &format!("/v1/endpoints/{endpoint_id}/test"),
            OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert!(sent.status.is_success(), "{}", sent.body);
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;

    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    // The attempt is counted once its record commits, just after the receiver answered.
    let counted = crate::support::eventually(std::time::Duration::from_secs(10), || {
        let browser = &browser;
        let href = format!("/console/endpoints/{endpoint_id}");
        async move {
            let (_, page) = browser.page("/console").await;
            page.contains(&format!("href=\"{href}\""))
        }
    })
    .await;
    assert!(counted, "the failed attempt is not on the overview");
    let (status, overview) = browser.page("/console").await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    // accepted, duplicate, ignored, rejected, misconfigured, other refusals
    assert_eq!(
        row_counts(
            &overview,
            &format!("/console/orgs/acme/sources/{source_id}")
        ),
        vec![1, 1, 0, 3, 0, 0],
        "{overview}"
    );
    // delivered, retrying, failed, gone
    assert_eq!(
        row_counts(&overview, &format!("/console/endpoints/{endpoint_id}")),
        vec![0, 0, 1, 0],
        "{overview}"
    );
    let attention = r#"<strong class="warn">Disabled endpoint</strong>"#;
    assert!(!overview.contains(attention), "{overview}");

    let disabled = crate::hooks::patch(
        &server,
        &format!("/v1/endpoints/{endpoint_id}"),
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(disabled["enabled"], false, "{disabled}");
    let (_, overview) = browser.page("/console").await;
    assert!(overview.contains(attention), "{overview}");

    // A key without source:read or endpoint:read sees the org but none of the counts.
    let runs_only = server.mint_key("acme", &["run:read"]).await;
    let mut reader = Browser::new(&server);
    reader.sign_in(&runs_only).await;
    let (_, overview) = reader.page("/console").await;
    assert!(!overview.contains(&source_id), "{overview}");
    assert!(!overview.contains(&endpoint_id), "{overview}");
    assert!(
        overview.contains("No webhook in the last hour"),
        "{overview}"
    );
    server.stop().await.unwrap();
}

async fn a_sources_events_page_by_cursor_from_newest_to_oldest(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let verifier = json!({"type": "github"});
    let secret = "console-paging-secret-0123456789";
    let (source_id, _) = server
        .create_source("acme", source_body(&verifier, Some(secret)))
        .await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let now = chrono::Utc::now().timestamp();
    let mut event_ids = Vec::new();
    for n in 0..52 {
        let delivery = format!("0c0ffee0-0000-4000-8000-{n:012}");
        let request = signed(&verifier, secret, body, now, &delivery);
        let reply = server.send_webhook(&source_id, &request, body).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        event_ids.push(reply.body["event_id"].as_str().unwrap().to_owned());
    }
    let mut browser = Browser::new(&server);
    browser.sign_in(OPERATOR_TOKEN).await;
    let source_path = format!("/console/orgs/acme/sources/{source_id}");
    let (_, first) = browser.page(&source_path).await;
    let listed = |page: &str| {
        event_ids
            .iter()
            .filter(|id| page.contains(&format!("/console/events/{id}")))
            .count()
    };
    assert_eq!(listed(&first), 50);
    assert!(first.contains(&format!("/console/events/{}", event_ids[51])));
    assert!(!first.contains(&format!("/console/events/{}", event_ids[0])));
    let marker = format!("{source_path}?cursor=");
    let start = first.find(&marker).expect("a link to older events");
    let older = first[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (status, second) = browser.page(&older).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(listed(&second), 2);
    assert!(second.contains(&format!("/console/events/{}", event_ids[0])));
    assert!(!second.contains("Older events"), "{second}");
    server.stop().await.unwrap();
}

async fn an_address_with_ten_failed_sign_ins_is_refused_for_a_while(mode: Mode) {
    let server = TestServer::start(mode).await;
    let browser = Browser::new(&server);
    for _ in 0..10 {
        let refused = browser
            .post_form("/console/sign-in", &[("token", "not-a-token")])
            .await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right token waits now, and no session is opened.
    let throttled = browser
        .post_form("/console/sign-in", &[("token", OPERATOR_TOKEN)])
        .await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "Retry-After: {wait}");
    assert!(throttled.headers().get(SET_COOKIE).is_none());
    assert!(throttled
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));
    server.stop().await.unwrap();
}
