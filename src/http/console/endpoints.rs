//! Endpoints in the console: an org's endpoints with their health; one endpoint with
//! its secrets and deliveries by state; one delivery with every attempt's request and
//! response; retry and a test event, through the REST API's own operations.

use super::pages::{render, Chrome};
use super::see_other;
use super::session::ConsoleUser;
use super::session::CsrfForm;
use super::ConsoleError;
use crate::auth::Scope;
use crate::http::deliveries::{parse_state, retry_one, DeliveryState};
use crate::http::endpoints::{
    endpoint_for, owner, recover_since, send_test_event, update, PatchEndpoint,
};
use crate::http::extract::{cursor, ListParams};
use crate::http::orgs::visible_org;
use crate::http::secrets::{self, RotateSecret};
use crate::http::AppState;
use crate::store::{Attempt, Delivery, DeliveryFilter, Endpoint, PageRequest, StoredSecret};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::Form;
use serde::Deserialize;

const PAGE_ROWS: usize = 50;

/// One line on an endpoint's state, for the lists.
fn health(endpoint: &Endpoint) -> String {
    match (
        endpoint.enabled,
        &endpoint.disabled_reason,
        endpoint.failing_since,
    ) {
        (false, Some(reason), _) => format!("disabled: {reason}"),
        (false, None, _) => "disabled".to_owned(),
        (true, _, Some(since)) => {
            format!("failing since {}", since.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        (true, _, None) => "healthy".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "console/endpoints.html")]
struct EndpointsPage {
    chrome: Chrome,
    org: String,
    endpoints: Vec<(Endpoint, String)>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    status: Option<String>,
    /// What the last action did (`test`, `recovered`), for the page's notice.
    done: Option<String>,
    /// How many deliveries a recovery made due again.
    count: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, ConsoleError> {
    let org = visible_org(&state, &user.principal, &org).await?;
    user.principal.allows(&org, Scope::EndpointRead)?;
    let page = ListParams {
        limit: Some(PAGE_ROWS),
        cursor: query.cursor,
    }
    .page()?;
    let endpoints = state.store().list_endpoints(&org, &page).await?;
    let chrome = Chrome::of(&user);
    render(&EndpointsPage {
        chrome,
        org: org.as_str().to_owned(),
        endpoints: endpoints
            .items
            .into_iter()
            .map(|e| {
                let line = health(&e);
                (e, line)
            })
            .collect(),
        next: cursor(endpoints.next),
    })
}

#[derive(Template)]
#[template(path = "console/endpoint.html")]
struct EndpointPage {
    chrome: Chrome,
    org: String,
    endpoint: Endpoint,
    health: String,
    secrets: Vec<StoredSecret>,
    /// Deliveries with their state, when the caller may read them.
    deliveries: Option<Vec<(Delivery, &'static str)>>,
    status: String,
    states: Vec<&'static str>,
    can_test: bool,
    /// Recover since: `delivery:retry`.
    can_write_deliveries: bool,
    can_rotate: bool,
    notice: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, ConsoleError> {
    let endpoint = endpoint_for(&state, &user.principal, &id, Scope::EndpointRead).await?;
    let secrets = state.store().list_secrets(&endpoint.id).await?;
    let deliveries = if user
        .principal
        .allows(&endpoint.org, Scope::DeliveryRead)
        .is_ok()
    {
        let (status, tried, endpoint_enabled) =
            parse_state(query.status.as_deref().filter(|s| !s.is_empty()))?
                .map(DeliveryState::filter)
                .map_or((None, None, None), |(status, tried, enabled)| {
                    (Some(status), tried, enabled)
                });
        let filter = DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            status,
            tried,
            event_type: None,
            since: None,
            endpoint_enabled,
        };
        let page = state
            .store()
            .list_deliveries(&endpoint.org, &filter, &PageRequest::first(PAGE_ROWS))
            .await?;
        Some(
            page.items
                .into_iter()
                .map(|d| {
                    let shown = DeliveryState::of(d.status, d.attempts, endpoint.enabled).as_str();
                    (d, shown)
                })
                .collect(),
        )
    } else {
        None
    };
    let chrome = Chrome::of(&user);
    render(&EndpointPage {
        chrome,
        org: endpoint.org.as_str().to_owned(),
        health: health(&endpoint),
        can_test: user
            .principal
            .allows(&endpoint.org, Scope::EndpointWrite)
            .is_ok(),
        notice: match query.done.as_deref() {
            Some("test") => {
                Some("Test event queued: its delivery shows below once made.".to_owned())
            }
            Some("recovered") => Some(format!(
                "{} failed deliveries are due again.",
                query.count.unwrap_or(0)
            )),
            _ => None,
        },
        can_write_deliveries: user
            .principal
            .allows(&endpoint.org, Scope::DeliveryRetry)
            .is_ok(),
        can_rotate: user
            .principal
            .allows(&endpoint.org, Scope::SecretRotate)
            .is_ok(),
        status: query.status.unwrap_or_default(),
        states: DeliveryState::ALL.iter().map(|s| s.as_str()).collect(),
        endpoint,
        secrets,
        deliveries,
    })
}

#[derive(Template)]
#[template(path = "console/delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    org: String,
    delivery: Delivery,
    shown_state: &'static str,
    attempts: Vec<Attempt>,
    can_retry: bool,
    retried: bool,
}

#[derive(Deserialize)]
pub struct DeliveryQuery {
    retried: Option<String>,
}

pub async fn delivery(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Html<String>, ConsoleError> {
    let delivery = state
        .store()
        .find_delivery(&id)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    user.principal.allows(&delivery.org, Scope::DeliveryRead)?;
    let attempts = state.store().list_attempts(&delivery.id).await?;
    let enabled = state
        .store()
        .find_endpoint(&delivery.endpoint_id)
        .await?
        .is_none_or(|endpoint| endpoint.enabled);
    let chrome = Chrome::of(&user);
    render(&DeliveryPage {
        chrome,
        org: delivery.org.as_str().to_owned(),
        shown_state: DeliveryState::of(delivery.status, delivery.attempts, enabled).as_str(),
        can_retry: user
            .principal
            .allows(&delivery.org, Scope::DeliveryRetry)
            .is_ok(),
        retried: query.retried.is_some(),
        delivery,
        attempts,
    })
}

pub async fn retry_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    retry_one(&state, &user.principal, &id).await?;
    let location = format!("/console/deliveries/{id}?retried=1");
    Ok(see_other(location))
}

pub async fn send_test(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    send_test_event(&state, &user.principal, &id).await?;
    let location = format!("/console/endpoints/{id}?done=test");
    Ok(see_other(location))
}

#[derive(Deserialize)]
pub struct EnableForm {
    csrf: String,
    /// `true` to enable, `false` to disable.
    enabled: bool,
}

pub async fn set_enabled(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<EnableForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    update(
        &state,
        &user.principal,
        &id,
        PatchEndpoint::enabled(form.enabled),
    )
    .await?;
    let location = format!("/console/endpoints/{id}");
    Ok(see_other(location))
}

#[derive(Deserialize)]
pub struct RecoverForm {
    csrf: String,
    /// Failed deliveries created within this many hours are retried.
    hours: u32,
}

pub async fn recover(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<RecoverForm>,
) -> Result<Response, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let since = chrono::Utc::now() - chrono::Duration::hours(i64::from(form.hours));
    let retried = recover_since(&state, &user.principal, &id, since).await?;
    let location = format!("/console/endpoints/{id}?done=recovered&count={retried}");
    Ok(see_other(location))
}

#[derive(Template)]
#[template(path = "console/rotated_endpoint.html")]
struct RotatedPage {
    chrome: Chrome,
    org: String,
    endpoint_id: String,
    secret: String,
    grace_hours: u64,
}

#[derive(Deserialize)]
pub struct RotateForm {
    csrf: String,
    grace_hours: u64,
}

/// A new `whsec_` signing secret, shown on this page only; deliveries are signed with
/// every unexpired secret meanwhile, so the receiver can switch without a failure.
pub async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<RotateForm>,
) -> Result<Html<String>, ConsoleError> {
    user.check_form(&headers, &form.csrf)?;
    let endpoint = endpoint_for(&state, &user.principal, &id, Scope::SecretRotate).await?;
    let request = RotateSecret {
        grace_period_s: Some(form.grace_hours.saturating_mul(3600)),
        secret: None,
    };
    let rotated = secrets::rotate(&state, &user.principal, &owner(&endpoint), &request).await?;
    let chrome = Chrome::of(&user);
    render(&RotatedPage {
        chrome,
        org: endpoint.org.as_str().to_owned(),
        endpoint_id: endpoint.id,
        secret: rotated.secret,
        grace_hours: form.grace_hours,
    })
}
