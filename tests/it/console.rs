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
);

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
