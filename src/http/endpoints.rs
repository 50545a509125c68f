//! Endpoints (SPEC §6, §7): product backends' URLs for execution hooks.

use super::error::ApiError;
use super::extract::{cursor, ApiJson, ApiQuery, ListParams};
use super::orgs::visible_org;
use super::secrets::{self, RotateSecret, RotatedSecret, SecretList};
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::delivery::parse_schedule;
use crate::id::new_id;
use crate::secrets as secret_values;
use crate::store::{AuditAction, AuditEntry, DeliveryFilter, DeliveryStatus, Endpoint, RunEvent};
use crate::verify::VerifierKind;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const DEFAULT_TIMEOUT_MS: u32 = 15_000;
const MAX_FILTER_ENTRIES: usize = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, patch_endpoint, delete_endpoint))
        .routes(routes!(list_secrets))
        .routes(routes!(rotate_secret))
        .routes(routes!(expire_secret))
        .routes(routes!(send_test))
        .routes(routes!(recover))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    url: String,
    #[serde(default)]
    description: String,
    /// Event types delivered; empty or absent = all.
    #[serde(default)]
    event_types: Vec<String>,
    /// Workflows whose events are delivered; empty or absent = all.
    #[serde(default)]
    workflow_ids: Vec<String>,
    /// Per-attempt timeout, 1000–60000 (default 15000).
    timeout_ms: Option<u32>,
    rate_limit_per_s: Option<u32>,
    /// This endpoint's retry delays, e.g. "0s,5s,5m" (default: HOOKGATE_RETRY_SCHEDULE).
    retry_schedule: Option<String>,
    /// Starts disabled when false.
    enabled: Option<bool>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    workflow_ids: Option<Vec<String>>,
    timeout_ms: Option<u32>,
    /// 0 removes the limit.
    rate_limit_per_s: Option<u32>,
    /// "" removes this endpoint's own schedule.
    retry_schedule: Option<String>,
    /// Re-enabling clears a disable by hookgate; its pending deliveries resume.
    enabled: Option<bool>,
}

impl PatchEndpoint {
    /// A change of `enabled` alone (the console's enable and disable buttons).
    pub(super) fn enabled(enabled: bool) -> Self {
        Self {
            enabled: Some(enabled),
            ..Self::default()
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    id: String,
    url: String,
    description: String,
    event_types: Vec<String>,
    workflow_ids: Vec<String>,
    enabled: bool,
    /// `gone` (the endpoint answered 410) or `failing` (every attempt failed for days).
    disabled_reason: Option<String>,
    timeout_ms: u32,
    rate_limit_per_s: Option<u32>,
    retry_schedule: Option<String>,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    failing_since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros")]
    updated_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            workflow_ids: e.workflow_ids,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            timeout_ms: e.timeout_ms,
            rate_limit_per_s: e.rate_limit_per_s,
            retry_schedule: e.retry_schedule,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedEndpoint {
    endpoint: EndpointView,
    /// `whsec_…`: shown this once. Verify deliveries with any Standard Webhooks library.
    secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    data: Vec<EndpointView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    event_id: Option<String>,
    /// Deliveries created or made pending again.
    deliveries: u64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// Retry this endpoint's failed deliveries created at or after this time.
    since: DateTime<Utc>,
}

fn validate_url(url: &str) -> Result<String, ApiError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ApiError::validation("url", "not a URL"))?;
    let scheme_ok = matches!(parsed.scheme(), "http" | "https");
    if !scheme_ok || parsed.host_str().is_none() || url.len() > 2048 {
        return Err(ApiError::validation(
            "url",
            "must be an http(s) URL with a host, at most 2048 bytes",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::validation("url", "must not carry credentials"));
    }
    Ok(url.to_owned())
}

fn validate_names(field: &str, names: Vec<String>) -> Result<Vec<String>, ApiError> {
    if names.len() > MAX_FILTER_ENTRIES {
        return Err(ApiError::validation(field, "at most 100 entries"));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || name.len() > 128 {
            return Err(ApiError::validation(
                &format!("{field}[{i}]"),
                "must be 1 to 128 bytes",
            ));
        }
    }
    Ok(names)
}

fn validate_timeout(ms: u32) -> Result<u32, ApiError> {
    if !(1_000..=60_000).contains(&ms) {
        return Err(ApiError::validation("timeout_ms", "must be 1000 to 60000"));
    }
    Ok(ms)
}

fn validate_rate(rate: u32) -> Result<Option<u32>, ApiError> {
    match rate {
        0 => Ok(None),
        1..=10_000 => Ok(Some(rate)),
        _ => Err(ApiError::validation(
            "rate_limit_per_s",
            "must be 1 to 10000 (0 removes it)",
        )),
    }
}

fn validate_schedule(schedule: &str) -> Result<Option<String>, ApiError> {
    if schedule.is_empty() {
        return Ok(None);
    }
    parse_schedule(schedule).map_err(|e| ApiError::validation("retry_schedule", e))?;
    Ok(Some(schedule.to_owned()))
}

pub(super) async fn endpoint_for(
    state: &AppState,
    principal: &Principal,
    id: &str,
    scope: Scope,
) -> Result<Endpoint, ApiError> {
    let endpoint = state
        .store()
        .find_endpoint(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&endpoint.org, scope)?;
    Ok(endpoint)
}

pub(super) fn owner(endpoint: &Endpoint) -> secrets::Owner<'_> {
    secrets::Owner {
        org: &endpoint.org,
        id: &endpoint.id,
        kind: VerifierKind::StandardWebhooks,
    }
}

fn audit(
    principal: &Principal,
    endpoint: &Endpoint,
    action: AuditAction,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry::new(
        &endpoint.org,
        principal.actor(),
        action,
        &endpoint.id,
        details,
    )
}

/// Create an endpoint; the response holds its `whsec_` secret, once (`endpoint:write`).
#[utoipa::path(post, path = "/v1/orgs/{org}/endpoints", tag = "endpoints", params(("org" = String, Path)),
    request_body = CreateEndpoint, responses((status = 201, body = CreatedEndpoint), (status = 422, description = "validation_failed")))]
async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::EndpointWrite)?;
    let now = Utc::now();
    let endpoint = Endpoint {
        id: new_id("ep"),
        org: org.clone(),
        url: validate_url(&body.url)?,
        description: body.description.chars().take(1000).collect(),
        event_types: validate_names("event_types", body.event_types)?,
        workflow_ids: validate_names("workflow_ids", body.workflow_ids)?,
        enabled: body.enabled.unwrap_or(true),
        disabled_reason: None,
        timeout_ms: validate_timeout(body.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))?,
        rate_limit_per_s: body
            .rate_limit_per_s
            .map(validate_rate)
            .transpose()?
            .flatten(),
        retry_schedule: body
            .retry_schedule
            .as_deref()
            .map(validate_schedule)
            .transpose()?
            .flatten(),
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let secret = secret_values::generate(VerifierKind::StandardWebhooks)
        .map_err(|reason| ApiError::validation("secret", reason))?;
    let stored = secret_values::seal(state.keyring(), &endpoint.id, &secret, now);
    let entry = audit(
        &principal,
        &endpoint,
        AuditAction::EndpointCreated,
        serde_json::json!({"url": endpoint.url, "secret_id": stored.id}),
    );
    state
        .store()
        .create_endpoint(&endpoint, &stored, &entry)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: endpoint.into(),
            secret: secret.expose_str().unwrap_or_default().to_owned(),
        }),
    ))
}

/// List an org's endpoints (`endpoint:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/endpoints", tag = "endpoints",
    params(("org" = String, Path), ListParams), responses((status = 200, body = EndpointList)))]
async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<EndpointList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::EndpointRead)?;
    let page = state.store().list_endpoints(&org, &params.page()?).await?;
    Ok(Json(EndpointList {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: cursor(page.next),
    }))
}

/// Read an endpoint (`endpoint:read`).
#[utoipa::path(get, path = "/v1/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, description = "not_found")))]
async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        endpoint_for(&state, &principal, &id, Scope::EndpointRead)
            .await?
            .into(),
    ))
}

/// Change an endpoint (`endpoint:write`).
#[utoipa::path(patch, path = "/v1/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    request_body = PatchEndpoint, responses((status = 200, body = EndpointView)))]
async fn patch_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchEndpoint>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(update(&state, &principal, &id, body).await?.into()))
}

/// Applies `body` to the endpoint (`endpoint:write`), audited; re-enabling clears a
/// disable by hookgate and wakes the delivery workers. The REST API and the console
/// both call this.
pub(super) async fn update(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: PatchEndpoint,
) -> Result<Endpoint, ApiError> {
    let mut endpoint = endpoint_for(state, principal, id, Scope::EndpointWrite).await?;
    if let Some(url) = body.url {
        endpoint.url = validate_url(&url)?;
    }
    if let Some(description) = body.description {
        endpoint.description = description.chars().take(1000).collect();
    }
    if let Some(types) = body.event_types {
        endpoint.event_types = validate_names("event_types", types)?;
    }
    if let Some(workflows) = body.workflow_ids {
        endpoint.workflow_ids = validate_names("workflow_ids", workflows)?;
    }
    if let Some(timeout) = body.timeout_ms {
        endpoint.timeout_ms = validate_timeout(timeout)?;
    }
    if let Some(rate) = body.rate_limit_per_s {
        endpoint.rate_limit_per_s = validate_rate(rate)?;
    }
    if let Some(schedule) = body.retry_schedule {
        endpoint.retry_schedule = validate_schedule(&schedule)?;
    }
    if let Some(enabled) = body.enabled {
        if enabled && !endpoint.enabled {
            endpoint.disabled_reason = None;
            endpoint.failing_since = None;
        }
        endpoint.enabled = enabled;
    }
    endpoint.updated_at = Utc::now();
    let entry = audit(
        principal,
        &endpoint,
        AuditAction::EndpointUpdated,
        serde_json::json!({"url": endpoint.url, "enabled": endpoint.enabled}),
    );
    if !state.store().update_endpoint(&endpoint, &entry).await? {
        return Err(ApiError::not_found());
    }
    if endpoint.enabled {
        state.wake_delivery();
    }
    Ok(endpoint)
}

/// Delete an endpoint; nothing more is delivered to it (`endpoint:write`).
#[utoipa::path(delete, path = "/v1/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 204, description = "deleted")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let endpoint = endpoint_for(&state, &principal, &id, Scope::EndpointWrite).await?;
    let entry = audit(
        &principal,
        &endpoint,
        AuditAction::EndpointDeleted,
        serde_json::json!({"url": endpoint.url}),
    );
    if !state
        .store()
        .delete_endpoint(&endpoint.id, Utc::now(), &entry)
        .await?
    {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's signing secrets: metadata only (`endpoint:read`).
#[utoipa::path(get, path = "/v1/endpoints/{id}/secrets", tag = "endpoints", operation_id = "list_endpoint_secrets", params(("id" = String, Path)),
    responses((status = 200, body = SecretList)))]
async fn list_secrets(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SecretList>, ApiError> {
    let endpoint = endpoint_for(&state, &principal, &id, Scope::EndpointRead).await?;
    Ok(Json(secrets::list(&state, &owner(&endpoint)).await?))
}

/// Rotate the signing secret: during the grace period every delivery carries a
/// signature for each unexpired secret (`secret:rotate`).
#[utoipa::path(post, path = "/v1/endpoints/{id}/secrets/rotate", tag = "endpoints", operation_id = "rotate_endpoint_secret", params(("id" = String, Path)),
    request_body = RotateSecret, responses((status = 200, body = RotatedSecret)))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let endpoint = endpoint_for(&state, &principal, &id, Scope::SecretRotate).await?;
    Ok(Json(
        secrets::rotate(&state, &principal, &owner(&endpoint), &body).await?,
    ))
}

/// Expire a signing secret now (`secret:rotate`).
#[utoipa::path(delete, path = "/v1/endpoints/{id}/secrets/{secret_id}", tag = "endpoints", operation_id = "expire_endpoint_secret",
    params(("id" = String, Path), ("secret_id" = String, Path)), responses((status = 204, description = "expired")))]
async fn expire_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let endpoint = endpoint_for(&state, &principal, &id, Scope::SecretRotate).await?;
    secrets::expire(&state, &principal, &owner(&endpoint), &secret_id).await
}

/// Send a signed `endpoint.test` event to this endpoint only (`endpoint:write`).
#[utoipa::path(post, path = "/v1/endpoints/{id}/test", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 202, body = Queued)))]
async fn send_test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let (event_id, deliveries) = send_test_event(&state, &principal, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            event_id: Some(event_id),
            deliveries,
        }),
    ))
}

/// An `endpoint.test` event for this endpoint alone (`endpoint:write`); returns its id
/// and the deliveries it made. The REST API and the console both call this.
pub(super) async fn send_test_event(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(String, u64), ApiError> {
    let endpoint = endpoint_for(state, principal, id, Scope::EndpointWrite).await?;
    let now = Utc::now();
    let event = RunEvent {
        id: new_id("evt"),
        org: endpoint.org.clone(),
        event_type: "endpoint.test".into(),
        run_id: None,
        workflow_id: None,
        occurred_at: now,
        data: serde_json::json!({"endpoint_id": endpoint.id, "message": "test event from hookgate"}),
        received_at: now,
        traceparent: None,
    };
    let recorded = state
        .store()
        .record_run_event(&event, Some(&endpoint.id))
        .await?;
    state.wake_delivery();
    Ok((event.id, recorded.deliveries as u64))
}

/// Retry this endpoint's failed deliveries since a time, e.g. after an outage (`delivery:retry`).
#[utoipa::path(post, path = "/v1/endpoints/{id}/recover", tag = "endpoints", params(("id" = String, Path)),
    request_body = Recover, responses((status = 202, body = Queued)))]
async fn recover(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Recover>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let retried = recover_since(&state, &principal, &id, body.since).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            event_id: None,
            deliveries: retried,
        }),
    ))
}

/// Makes this endpoint's failed deliveries since `since` due again (`delivery:retry`);
/// returns how many. The REST API and the console both call this.
pub(super) async fn recover_since(
    state: &AppState,
    principal: &Principal,
    id: &str,
    since: DateTime<Utc>,
) -> Result<u64, ApiError> {
    let endpoint = endpoint_for(state, principal, id, Scope::DeliveryRetry).await?;
    let filter = DeliveryFilter {
        endpoint_id: Some(endpoint.id.clone()),
        status: Some(DeliveryStatus::Failed),
        tried: None,
        event_type: None,
        since: Some(since),
        endpoint_enabled: None,
    };
    let retried = state
        .store()
        .retry_deliveries(&endpoint.org, &filter, None, Utc::now())
        .await?;
    state.wake_delivery();
    Ok(retried)
}
