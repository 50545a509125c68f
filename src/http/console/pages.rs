//! The console's pages: each gathers what it shows through the store operations the
//! REST API uses, behind the same `Principal` checks, and renders one template.

use super::session::CsrfForm;
use super::session::{self, ConsoleUser};
use super::ConsoleError;
use crate::auth::{Principal, Scope};
use crate::http::client_address::client_address;
use crate::http::extract::principal_for_token;
use crate::http::orgs::visible_org;
use crate::http::AppState;
use crate::store::{
    IngressEvent, IngressEventFilter, OrgSlug, PageRequest, Rejected, Source, StoredSecret,
};
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// Rows a console table shows per page.
const PAGE_ROWS: usize = 50;
/// Rejection samples shown on a source's page.
const REJECTIONS_SHOWN: usize = 20;

/// What every signed-in page's header shows.
pub(super) struct Chrome {
    pub(super) who: String,
    pub(super) csrf: String,
    pub(super) nav_orgs: Vec<String>,
}

impl Chrome {
    pub(super) fn of(user: &ConsoleUser) -> Self {
        let (who, nav_orgs) = match &user.principal {
            Principal::Operator => ("operator".to_owned(), Vec::new()),
            Principal::ApiKey(key) => (
                format!("{} ({})", key.name, key.id),
                vec![key.org.as_str().to_owned()],
            ),
        };
        Chrome {
            who,
            csrf: user.session.csrf_token.clone(),
            nav_orgs,
        }
    }
}

pub(super) fn render(template: &impl Template) -> Result<Html<String>, ConsoleError> {
    template
        .render()
        .map(Html)
        .map_err(|_| ConsoleError::Forbidden("the page could not be rendered"))
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: String,
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str) -> String {
    ErrorPage {
        status: status.to_string(),
        message,
    }
    .render()
    .unwrap_or_else(|_| status.to_string())
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    problem: Option<&'a str>,
}

pub async fn sign_in_form() -> Result<Html<String>, ConsoleError> {
    render(&SignInPage { problem: None })
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// Checks the token as the REST API does (operator token or an unrevoked API key) and
/// opens a session; the token itself is not kept.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    if session::is_cross_origin(&headers) {
        return Err(ConsoleError::Forbidden("a sign-in from another site"));
    }
    let client = client_address(
        peer.map(|Extension(ConnectInfo(peer))| peer.ip()),
        &headers,
        state.trusted_proxies(),
    );
    let throttle = state.sign_in_throttle();
    if let Err(wait) = throttle.check(client, Instant::now()) {
        let page = render(&SignInPage {
            problem: Some("Too many failed sign-ins from this address: wait a few minutes."),
        })?;
        let retry_after = wait.as_secs().max(1).to_string();
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(RETRY_AFTER, retry_after)],
            page,
        )
            .into_response());
    }
    let Some(principal) = principal_for_token(&state, form.token.trim()).await? else {
        throttle.failed(client, Instant::now());
        let page = render(&SignInPage {
            problem: Some("That token is not the operator token or a valid API key."),
        })?;
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    };
    throttle.succeeded(client);
    let (cookie, _) = session::open(&state, &principal, Utc::now()).await?;
    let secure = state.public_url().starts_with("https://");
    let cookie = session::session_cookie(cookie.expose_str().unwrap_or_default(), secure);
    Ok((
        StatusCode::SEE_OTHER,
        [(SET_COOKIE, cookie), (LOCATION, "/console".to_owned())],
    )
        .into_response())
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    state
        .store()
        .delete_console_session(&user.session.token_hash)
        .await?;
    let secure = state.public_url().starts_with("https://");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, session::cleared_cookie(secure)),
            (LOCATION, "/console/sign-in".to_owned()),
        ],
    )
        .into_response())
}

/// Sources of `org` with when each last received, for the pages that list them.
pub(super) async fn sources_with_last_event(
    state: &AppState,
    org: &OrgSlug,
    page: &PageRequest,
) -> Result<(Vec<(Source, Option<DateTime<Utc>>)>, Option<String>), ConsoleError> {
    let sources = state.store().list_sources(org, page).await?;
    let ids: Vec<String> = sources.items.iter().map(|s| s.id.clone()).collect();
    let mut last: HashMap<String, DateTime<Utc>> = state
        .store()
        .last_event_at(&ids)
        .await?
        .into_iter()
        .collect();
    let rows = sources
        .items
        .into_iter()
        .map(|source| {
            let at = last.remove(&source.id);
            (source, at)
        })
        .collect();
    Ok((rows, sources.next))
}

struct SourceRow {
    id: String,
    name: String,
    verifier: &'static str,
    enabled: bool,
    quiet: bool,
    last_event_at: Option<DateTime<Utc>>,
}

#[derive(Template)]
#[template(path = "console/org.html")]
struct OrgPage {
    chrome: Chrome,
    org: String,
    sources: Vec<SourceRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

pub async fn org(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(&state, &user.principal, &org).await?;
    user.principal.allows(&org, Scope::SourceRead)?;
    let page = crate::http::extract::ListParams {
        limit: Some(PAGE_ROWS),
        cursor: query.cursor,
    }
    .page()?;
    let (sources, next) = sources_with_last_event(&state, &org, &page).await?;
    let now = Utc::now();
    let chrome = Chrome::of(&user);
    render(&OrgPage {
        chrome,
        org: org.as_str().to_owned(),
        sources: sources
            .into_iter()
            .map(|(source, at)| SourceRow {
                quiet: source.is_quiet(at, now),
                verifier: source.verifier.kind().as_str(),
                id: source.id,
                name: source.name,
                enabled: source.enabled,
                last_event_at: at,
            })
            .collect(),
        next: next.and_then(|n| crate::http::extract::cursor(Some(n))),
    })
}

#[derive(Template)]
#[template(path = "console/source.html")]
struct SourcePage {
    chrome: Chrome,
    org: String,
    source: Source,
    verifier: &'static str,
    ingress_url: String,
    secrets: Vec<StoredSecret>,
    events: Vec<IngressEvent>,
    /// The cursor of the next (older) page of events.
    next_events: Option<String>,
    rejections: Vec<Rejected>,
    /// Rotate and expire buttons: only for a caller with `secret:rotate`.
    can_rotate: bool,
    now: DateTime<Utc>,
}

pub async fn source(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, id)): Path<(String, String)>,
    Query(query): Query<CursorQuery>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(&state, &user.principal, &org).await?;
    user.principal.allows(&org, Scope::SourceRead)?;
    let page = crate::http::extract::ListParams {
        limit: Some(PAGE_ROWS),
        cursor: query.cursor,
    }
    .page()?;
    let source = state
        .store()
        .find_source(&id)
        .await?
        .filter(|source| source.org == org)
        .ok_or(ConsoleError::NotFound)?;
    let secrets = state.store().list_secrets(&source.id).await?;
    let filter = IngressEventFilter {
        source_id: Some(source.id.clone()),
        ..IngressEventFilter::default()
    };
    let events = state
        .store()
        .list_ingress_events(&org, &filter, &page)
        .await?;
    let rejections = state
        .store()
        .list_rejections(&source.id, REJECTIONS_SHOWN)
        .await?;
    let chrome = Chrome::of(&user);
    render(&SourcePage {
        chrome,
        org: org.as_str().to_owned(),
        verifier: source.verifier.kind().as_str(),
        ingress_url: format!("{}/v1/ingress/{}", state.public_url(), source.id),
        can_rotate: user.principal.allows(&org, Scope::SecretRotate).is_ok(),
        now: Utc::now(),
        source,
        secrets,
        events: events.items,
        next_events: crate::http::extract::cursor(events.next),
        rejections,
    })
}
