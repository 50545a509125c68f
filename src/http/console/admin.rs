//! An org's audit log and its API keys (mint, the key shown once; revoke), through the
//! REST API's own operations and checks (`audit:read`; the operator for keys).

use super::pages::{render, Chrome};
use super::see_other;
use super::session::ConsoleUser;
use super::session::CsrfForm;
use super::ConsoleError;
use crate::auth::Scope;
use crate::http::api_keys::{mint, revoke, MintKey};
use crate::http::extract::{cursor, ListParams};
use crate::http::orgs::visible_org;
use crate::http::AppState;
use crate::store::{ApiKey, AuditEntry};
use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::Form;
use serde::Deserialize;

const PAGE_ROWS: usize = 50;

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    org: String,
    entries: Vec<AuditEntry>,
    next: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(&state, &user.principal, &org).await?;
    user.principal.allows(&org, Scope::AuditRead)?;
    let page = ListParams {
        limit: Some(PAGE_ROWS),
        cursor: query.cursor,
    }
    .page()?;
    let entries = state.store().list_audit(&org, &page).await?;
    let chrome = Chrome::of(&user);
    render(&AuditPage {
        chrome,
        org: org.as_str().to_owned(),
        entries: entries.items,
        next: cursor(entries.next),
    })
}

#[derive(Template)]
#[template(path = "console/api_keys.html")]
struct KeysPage {
    chrome: Chrome,
    org: String,
    keys: Vec<ApiKey>,
    scopes: Vec<&'static str>,
    minted: Option<(String, String)>,
}

async fn keys_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    minted: Option<(String, String)>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(state, &user.principal, org).await?;
    user.principal.operator_for(&org)?;
    let keys = state
        .store()
        .list_api_keys(&org, &crate::store::PageRequest::first(PAGE_ROWS * 4))
        .await?;
    let chrome = Chrome::of(user);
    render(&KeysPage {
        chrome,
        org: org.as_str().to_owned(),
        keys: keys.items,
        scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
        minted,
    })
}

pub async fn keys(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
) -> Result<Html<String>, ConsoleError> {
    keys_page(&state, &user, &org, None).await
}

/// The mint form: a name, the CSRF token and any number of `scope` checkboxes (a
/// repeated field, which a struct form cannot hold).
pub async fn mint_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(org): Path<String>,
    RawForm(form): RawForm,
) -> Result<Html<String>, ConsoleError> {
    let mut name = String::new();
    let mut csrf = String::new();
    let mut scopes = Vec::new();
    for (field, value) in form_urlencoded::parse(&form) {
        match field.as_ref() {
            "name" => name = value.into_owned(),
            "csrf" => csrf = value.into_owned(),
            "scope" => scopes.push(value.parse::<Scope>().map_err(|reason| {
                ConsoleError::Api(crate::http::error::ApiError::validation("scopes", &reason))
            })?),
            _ => {}
        }
    }
    user.check_form(&headers, &csrf)?;
    if scopes.is_empty() {
        // The API reads no scopes as every scope; a console form must say so itself.
        return Err(ConsoleError::Api(crate::http::error::ApiError::validation(
            "scopes",
            "choose at least one scope",
        )));
    }
    let minted = mint(&state, &user.principal, &org, MintKey { name, scopes }).await?;
    keys_page(&state, &user, &org, Some((minted.id, minted.key))).await
}

pub async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let org = revoke(&state, &user.principal, &id).await?;
    let location = format!("/console/orgs/{}/api-keys", org.as_str());
    Ok(see_other(location))
}
