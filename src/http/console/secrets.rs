//! A source's secrets from the console: rotate (the new secret shown on this one page,
//! never again) and expire. The REST API's own operations: same scope
//! (`secret:rotate`), same audit entries.

use super::pages::{render, Chrome};
use super::see_other;
use super::session::ConsoleUser;
use super::session::CsrfForm;
use super::ConsoleError;
use crate::auth::Scope;
use crate::http::orgs::visible_org;
use crate::http::secrets::{self, RotateSecret};
use crate::http::sources::{owner, source_for};
use crate::http::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::Form;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "console/rotated.html")]
struct RotatedPage {
    chrome: Chrome,
    org: String,
    source_id: String,
    source_name: String,
    secret: String,
    grace_hours: u64,
}

#[derive(Deserialize)]
pub struct RotateForm {
    csrf: String,
    /// How long the previous secrets keep verifying.
    grace_hours: u64,
}

pub async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path((org, id)): Path<(String, String)>,
    Form(form): Form<RotateForm>,
) -> Result<Html<String>, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let org = visible_org(&state, &user.principal, &org).await?;
    let source = source_for(&state, &user.principal, &id, Scope::SecretRotate).await?;
    if source.org != org {
        return Err(ConsoleError::NotFound);
    }
    let request = RotateSecret {
        grace_period_s: Some(form.grace_hours.saturating_mul(3600)),
        secret: None,
    };
    let rotated = secrets::rotate(&state, &user.principal, &owner(&source), &request).await?;
    let chrome = Chrome::of(&user);
    render(&RotatedPage {
        chrome,
        org: org.as_str().to_owned(),
        source_id: source.id,
        source_name: source.name,
        secret: rotated.secret,
        grace_hours: form.grace_hours,
    })
}

pub async fn expire(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path((org, id, secret_id)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let org = visible_org(&state, &user.principal, &org).await?;
    let source = source_for(&state, &user.principal, &id, Scope::SecretRotate).await?;
    if source.org != org {
        return Err(ConsoleError::NotFound);
    }
    secrets::expire(&state, &user.principal, &owner(&source), &secret_id).await?;
    let location = format!("/console/orgs/{}/sources/{}", org.as_str(), source.id);
    Ok(see_other(location))
}
