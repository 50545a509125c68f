//! Deliveries and their attempt log (SPEC §6, §7): list, read, retry one, retry many.

use super::error::ApiError;
use super::extract::{cursor, ApiJson, ApiQuery, ListParams};
use super::orgs::visible_org;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::store::{Attempt, Delivery, DeliveryFilter, DeliveryStatus};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
        .routes(routes!(bulk_retry))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    id: String,
    event_id: String,
    event_type: String,
    endpoint_id: String,
    status: DeliveryState,
    attempts: u32,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    last_attempt_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status, if it got an answer.
    last_status: Option<u16>,
    /// The last failed attempt's error class (timeout, connect, dns, tls, blocked or
    /// http_status).
    last_error: Option<String>,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros")]
    updated_at: DateTime<Utc>,
}

impl DeliveryView {
    /// The delivery as shown, knowing whether its endpoint is enabled.
    fn new(d: Delivery, endpoint_enabled: bool) -> Self {
        Self {
            status: DeliveryState::of(d.status, d.attempts, endpoint_enabled),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            endpoint_id: d.endpoint_id,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    attempt: u32,
    #[serde(serialize_with = "super::timestamp::micros")]
    started_at: DateTime<Utc>,
    duration_ms: u32,
    request_url: String,
    /// Request headers as sent (`webhook-signature` included: it is not a secret).
    request_headers: Vec<(String, String)>,
    response_status: Option<u16>,
    response_headers: Option<Vec<(String, String)>>,
    /// First 4 KiB of the response body (lossy UTF-8); null once past retention.
    response_body: Option<String>,
    /// timeout, connect, dns, tls, blocked, or http_status.
    error: Option<String>,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    next_attempt_at: Option<DateTime<Utc>>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            request_url: a.request_url,
            request_headers: a.request_headers,
            response_status: a.response_status,
            response_headers: a.response_headers,
            response_body: a
                .response_body
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            error: a.error_class,
            next_attempt_at: a.next_attempt_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: DeliveryView,
    attempts: Vec<AttemptView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListParams {
    endpoint_id: Option<String>,
    /// pending (not tried yet), retrying (tried, another attempt scheduled), delivered,
    /// failed or disabled (waiting on a disabled endpoint).
    status: Option<String>,
    event_type: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryFilter {
    endpoint_id: Option<String>,
    /// `failed` (default), `retrying` or `pending`.
    status: Option<String>,
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Retried {
    retried: u64,
}

/// A delivery's state as the API shows it (SPEC §7.1), derived from the stored one:
/// a waiting delivery that has been tried is `retrying`, so an endpoint that is
/// failing now shows now, not when its schedule ends; one waiting on a disabled
/// endpoint is `disabled` (it is not tried until the endpoint is enabled again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Retrying,
    Delivered,
    Failed,
    Disabled,
}

/// What selects a state in the store: `(status, tried, endpoint_enabled)`.
pub(super) type StoredFilter = (DeliveryStatus, Option<bool>, Option<bool>);

impl DeliveryState {
    pub(super) const ALL: [Self; 5] = [
        Self::Pending,
        Self::Retrying,
        Self::Delivered,
        Self::Failed,
        Self::Disabled,
    ];

    pub(super) fn of(status: DeliveryStatus, attempts: u32, endpoint_enabled: bool) -> Self {
        match status {
            DeliveryStatus::Pending if !endpoint_enabled => Self::Disabled,
            DeliveryStatus::Pending if attempts > 0 => Self::Retrying,
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Failed => Self::Failed,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Disabled => "disabled",
        }
    }

    /// The stored status, `tried` and endpoint filters that select this state.
    pub(super) fn filter(self) -> StoredFilter {
        match self {
            Self::Pending => (DeliveryStatus::Pending, Some(false), Some(true)),
            Self::Retrying => (DeliveryStatus::Pending, Some(true), Some(true)),
            Self::Delivered => (DeliveryStatus::Delivered, None, None),
            Self::Failed => (DeliveryStatus::Failed, None, None),
            Self::Disabled => (DeliveryStatus::Pending, None, Some(false)),
        }
    }
}

pub(super) fn parse_state(value: Option<&str>) -> Result<Option<DeliveryState>, ApiError> {
    value
        .map(|s| {
            DeliveryState::ALL
                .into_iter()
                .find(|state| state.as_str() == s)
                .ok_or_else(|| {
                    ApiError::validation(
                        "status",
                        "pending, retrying, delivered, failed or disabled",
                    )
                })
        })
        .transpose()
}

async fn delivery_for(
    state: &AppState,
    principal: &Principal,
    id: &str,
    scope: Scope,
) -> Result<Delivery, ApiError> {
    let delivery = state
        .store()
        .find_delivery(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&delivery.org, scope)?;
    Ok(delivery)
}

/// An org's deliveries, newest first (`delivery:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/deliveries", tag = "deliveries",
    params(("org" = String, Path), DeliveryListParams), responses((status = 200, body = DeliveryList)))]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<DeliveryListParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::DeliveryRead)?;
    let (status, tried, endpoint_enabled) = parse_state(params.status.as_deref())?
        .map(DeliveryState::filter)
        .map_or((None, None, None), |(status, tried, enabled)| {
            (Some(status), tried, enabled)
        });
    let filter = DeliveryFilter {
        endpoint_id: params.endpoint_id,
        status,
        tried,
        event_type: params.event_type,
        since: None,
        endpoint_enabled,
    };
    let page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page()?;
    let deliveries = state.store().list_deliveries(&org, &filter, &page).await?;
    let disabled = state.store().disabled_endpoint_ids(&org).await?;
    Ok(Json(DeliveryList {
        data: deliveries
            .items
            .into_iter()
            .map(|d| {
                let enabled = !disabled.contains(&d.endpoint_id);
                DeliveryView::new(d, enabled)
            })
            .collect(),
        next_cursor: cursor(deliveries.next),
    }))
}

/// A delivery with every attempt (`delivery:read`).
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, description = "not_found")))]
async fn get_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let delivery = delivery_for(&state, &principal, &id, Scope::DeliveryRead).await?;
    let attempts = state.store().list_attempts(&delivery.id).await?;
    let endpoint_enabled = state
        .store()
        .find_endpoint(&delivery.endpoint_id)
        .await?
        .is_none_or(|endpoint| endpoint.enabled);
    Ok(Json(DeliveryDetail {
        delivery: DeliveryView::new(delivery, endpoint_enabled),
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Send a delivery again now, whatever its state (`delivery:retry`).
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries", params(("id" = String, Path)),
    responses((status = 202, body = Retried)))]
async fn retry_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    let retried = retry_one(&state, &principal, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Retried { retried })))
}

/// Makes the delivery due now, whatever its state (`delivery:retry`); the REST API and
/// the console's retry button both call this.
pub(super) async fn retry_one(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<u64, ApiError> {
    let delivery = delivery_for(state, principal, id, Scope::DeliveryRetry).await?;
    let retried = state
        .store()
        .retry_deliveries(
            &delivery.org,
            &DeliveryFilter::default(),
            Some(&delivery.id),
            Utc::now(),
        )
        .await?;
    state.wake_delivery();
    Ok(retried)
}

/// Retry every delivery matching a filter (default: all failed ones) (`delivery:retry`).
#[utoipa::path(post, path = "/v1/orgs/{org}/deliveries/retry", tag = "deliveries", params(("org" = String, Path)),
    request_body = RetryFilter, responses((status = 202, body = Retried)))]
async fn bulk_retry(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<RetryFilter>,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::DeliveryRetry)?;
    let state_asked = parse_state(body.status.as_deref())?.unwrap_or(DeliveryState::Failed);
    if state_asked == DeliveryState::Delivered {
        return Err(ApiError::validation(
            "status",
            "delivered deliveries are resent one by one",
        ));
    }
    if state_asked == DeliveryState::Disabled {
        return Err(ApiError::validation(
            "status",
            "a disabled endpoint's deliveries resume when the endpoint is enabled",
        ));
    }
    let (status, tried, _) = state_asked.filter();
    let filter = DeliveryFilter {
        endpoint_id: body.endpoint_id,
        status: Some(status),
        tried,
        event_type: body.event_type,
        since: body.since,
        endpoint_enabled: None,
    };
    let retried = state
        .store()
        .retry_deliveries(&org, &filter, None, Utc::now())
        .await?;
    state.wake_delivery();
    Ok((StatusCode::ACCEPTED, Json(Retried { retried })))
}
