//! Sources (SPEC §3.1, §7): CRUD, secrets with rotation, and the rejection sample.

use super::error::ApiError;
use super::extract::{cursor, ApiJson, ApiQuery, ListParams};
use super::orgs::{validate_name, visible_org};
use super::secrets::{self, RotateSecret, RotatedSecret, SecretList};
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::id::new_id;
use crate::secrets as secret_values;
use crate::store::{AuditAction, AuditEntry, Source, SourcePatch};
use crate::verify::VerifierConfig;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const MAX_MAX_BODY: u64 = 32 * 1024 * 1024;
/// Longest `quiet_after_s`: a year.
const MAX_QUIET_AFTER_S: u32 = 365 * 86_400;
const MAX_FILTER_ENTRIES: usize = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_source, list_sources))
        .routes(routes!(get_source, patch_source, delete_source))
        .routes(routes!(list_secrets))
        .routes(routes!(rotate_secret))
        .routes(routes!(expire_secret))
        .routes(routes!(list_rejections))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    name: String,
    /// The workflow each accepted event starts: letters, digits, '_' and '-'.
    workflow_id: String,
    /// `{"type": "github"|"stripe"|"standard_webhooks"|"shopify"|"slack"|"gitlab"|"linear"|
    /// "intercom"|"pagerduty"|"typeform"|"atlassian"|"twilio"|"hubspot"|"square"|"discord"|
    /// "paddle"|"zendesk"|"mailgun"|"sendgrid"|"aws_sns"|"hmac"|"bearer", …}` (README
    /// "Supported senders")
    #[schema(value_type = Object)]
    verifier: VerifierConfig,
    /// The sender's own secret (GitHub, Stripe, Shopify, Slack generate theirs); generated when absent.
    /// Required for discord and sendgrid (the sender's public key) and aws_sns (the topic
    /// ARN accepted), which hookgate cannot make.
    secret: Option<String>,
    /// Event names that create runs; empty or absent = all.
    event_filter: Option<Vec<String>>,
    /// Largest accepted body (default 1 MiB, at most 32 MiB).
    max_body_bytes: Option<u64>,
    /// Count the source as quiet once no event arrived for this many seconds (1 to
    /// 31536000); absent = never.
    quiet_after_s: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSource {
    name: Option<String>,
    workflow_id: Option<String>,
    enabled: Option<bool>,
    event_filter: Option<Vec<String>>,
    max_body_bytes: Option<u64>,
    /// Seconds without an event before the source counts as quiet; null = never.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    quiet_after_s: Option<Option<u32>>,
}

/// A field that may be absent (`None`), null (`Some(None)`) or set.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(deserializer).map(Some)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceView {
    id: String,
    name: String,
    workflow_id: String,
    #[schema(value_type = Object)]
    verifier: VerifierConfig,
    enabled: bool,
    event_filter: Vec<String>,
    max_body_bytes: u64,
    quiet_after_s: Option<u32>,
    /// When its latest event arrived; null if none ever did.
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    last_event_at: Option<DateTime<Utc>>,
    /// No event for `quiet_after_s` (counted from creation if none ever came).
    quiet: bool,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros")]
    updated_at: DateTime<Utc>,
    ingress_url: String,
}

impl SourceView {
    fn new(source: Source, public_url: &str, last_event_at: Option<DateTime<Utc>>) -> Self {
        Self {
            quiet: source.is_quiet(last_event_at, Utc::now()),
            quiet_after_s: source.quiet_after_s,
            last_event_at,
            ingress_url: ingress_url(public_url, &source.id),
            id: source.id,
            name: source.name,
            workflow_id: source.workflow_id,
            verifier: source.verifier,
            enabled: source.enabled,
            event_filter: source.event_filter,
            max_body_bytes: source.max_body_bytes,
            created_at: source.created_at,
            updated_at: source.updated_at,
        }
    }
}

fn ingress_url(public_url: &str, source_id: &str) -> String {
    format!("{public_url}/v1/ingress/{source_id}")
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedSource {
    source: SourceView,
    /// The secret: shown this once.
    secret: String,
    ingress_url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceList {
    data: Vec<SourceView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RejectionView {
    #[serde(serialize_with = "super::timestamp::micros")]
    at: DateTime<Utc>,
    /// The error code the sender got, e.g. `signature_invalid`.
    reason: String,
    /// Names of the headers the request carried (never values).
    headers_present: Vec<String>,
    /// Which check failed and by how much, e.g. `timestamp 412 s old, tolerance 300 s`
    /// or `signature matches none of 2 active secrets (fingerprints …)`.
    detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RejectionList {
    data: Vec<RejectionView>,
}

fn validate_workflow_id(value: &str) -> Result<String, ApiError> {
    let valid = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ApiError::validation(
            "workflow_id",
            "must be 1 to 128 of letters, digits, '_' and '-'",
        ));
    }
    Ok(value.to_owned())
}

fn validate_filter(filter: Vec<String>) -> Result<Vec<String>, ApiError> {
    if filter.len() > MAX_FILTER_ENTRIES {
        return Err(ApiError::validation(
            "event_filter",
            "at most 100 event names",
        ));
    }
    for (i, name) in filter.iter().enumerate() {
        if name.is_empty() || name.len() > 128 {
            return Err(ApiError::validation(
                &format!("event_filter[{i}]"),
                "must be 1 to 128 bytes",
            ));
        }
    }
    Ok(filter)
}

fn validate_quiet_after(value: u32) -> Result<u32, ApiError> {
    if !(1..=MAX_QUIET_AFTER_S).contains(&value) {
        return Err(ApiError::validation(
            "quiet_after_s",
            "must be 1 to 31536000 (a year)",
        ));
    }
    Ok(value)
}

/// The view of one source, with when it last received.
async fn view(state: &AppState, source: Source) -> Result<SourceView, ApiError> {
    let last = state
        .store()
        .last_event_at(std::slice::from_ref(&source.id))
        .await?
        .pop()
        .map(|(_, at)| at);
    Ok(SourceView::new(source, state.public_url(), last))
}

fn validate_max_body(value: u64) -> Result<u64, ApiError> {
    if !(1..=MAX_MAX_BODY).contains(&value) {
        return Err(ApiError::validation(
            "max_body_bytes",
            "must be 1 to 33554432",
        ));
    }
    Ok(value)
}

/// The source, if the caller may act on it with `scope` (404 otherwise).
pub(super) async fn source_for(
    state: &AppState,
    principal: &Principal,
    id: &str,
    scope: Scope,
) -> Result<Source, ApiError> {
    let source = state
        .store()
        .find_source(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&source.org, scope)?;
    Ok(source)
}

pub(super) fn owner(source: &Source) -> secrets::Owner<'_> {
    secrets::Owner {
        org: &source.org,
        id: &source.id,
        kind: source.verifier.kind(),
    }
}

fn audit(
    principal: &Principal,
    source: &Source,
    action: AuditAction,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry::new(&source.org, principal.actor(), action, &source.id, details)
}

/// Create a source; the response holds its secret, once (`source:write`).
#[utoipa::path(post, path = "/v1/orgs/{org}/sources", tag = "sources", params(("org" = String, Path)),
    request_body = CreateSource, responses(
    (status = 201, body = CreatedSource),
    (status = 403, description = "scope_denied"),
    (status = 404, description = "not_found"),
    (status = 422, description = "validation_failed"),
))]
async fn create_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<CreateSource>,
) -> Result<(StatusCode, Json<CreatedSource>), ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::SourceWrite)?;
    body.verifier
        .validate()
        .map_err(|e| ApiError::validation(&format!("verifier.{}", e.field()), e.reason()))?;
    let kind = body.verifier.kind();
    let secret = match body.secret.as_deref() {
        Some(value) => secret_values::accept_provided(kind, value)
            .map_err(|reason| ApiError::validation("secret", reason))?,
        None => secret_values::generate(kind)
            .map_err(|reason| ApiError::validation("secret", reason))?,
    };
    let now = Utc::now();
    let source = Source {
        id: new_id("src"),
        org: org.clone(),
        name: validate_name("name", &body.name)?,
        workflow_id: validate_workflow_id(&body.workflow_id)?,
        verifier: body.verifier,
        enabled: true,
        event_filter: validate_filter(body.event_filter.unwrap_or_default())?,
        max_body_bytes: validate_max_body(body.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY))?,
        quiet_after_s: body.quiet_after_s.map(validate_quiet_after).transpose()?,
        created_at: now,
        updated_at: now,
    };
    let stored = secret_values::seal(state.keyring(), &source.id, &secret, now);
    let entry = audit(
        &principal,
        &source,
        AuditAction::SourceCreated,
        serde_json::json!({ "name": source.name, "verifier": kind.as_str(), "secret_id": stored.id }),
    );
    state
        .store()
        .create_source(&source, &stored, &entry)
        .await?;
    let view = SourceView::new(source, state.public_url(), None);
    Ok((
        StatusCode::CREATED,
        Json(CreatedSource {
            ingress_url: view.ingress_url.clone(),
            source: view,
            secret: secret.expose_str().unwrap_or_default().to_owned(),
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SourceListParams {
    /// Only the sources that are quiet (`true`) or not (`false`).
    quiet: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Pages of sources read at most for one `?quiet=` answer, so a filtered list stays
/// bounded however few sources match.
const QUIET_SCAN_PAGES: usize = 10;

/// List an org's sources, newest first; `quiet=true` lists those that stopped
/// receiving (`source:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/sources", tag = "sources",
    params(("org" = String, Path), SourceListParams), responses((status = 200, body = SourceList)))]
async fn list_sources(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<SourceListParams>,
) -> Result<Json<SourceList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::SourceRead)?;
    let mut page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page()?;
    let mut data: Vec<SourceView> = Vec::new();
    let mut next = None;
    'pages: for _ in 0..QUIET_SCAN_PAGES {
        let sources = state.store().list_sources(&org, &page).await?;
        let ids: Vec<String> = sources.items.iter().map(|s| s.id.clone()).collect();
        let last: std::collections::HashMap<String, DateTime<Utc>> = state
            .store()
            .last_event_at(&ids)
            .await?
            .into_iter()
            .collect();
        for source in sources.items {
            if data.len() == page.limit {
                // Full: the next page starts after the last row shown.
                next = data.last().map(|v| v.id.clone());
                break 'pages;
            }
            let last_event_at = last.get(&source.id).copied();
            let view = SourceView::new(source, state.public_url(), last_event_at);
            if params.quiet.is_none_or(|quiet| quiet == view.quiet) {
                data.push(view);
            }
        }
        next = sources.next;
        // Without a filter every row counts; with one, read on until the page is full.
        if params.quiet.is_none() || next.is_none() {
            break;
        }
        page.before.clone_from(&next);
    }
    Ok(Json(SourceList {
        data,
        next_cursor: cursor(next),
    }))
}

/// Read a source (`source:read`).
#[utoipa::path(get, path = "/v1/sources/{id}", tag = "sources", params(("id" = String, Path)),
    responses((status = 200, body = SourceView), (status = 404, description = "not_found")))]
async fn get_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SourceView>, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SourceRead).await?;
    Ok(Json(view(&state, source).await?))
}

/// Change name, workflow, enabled flag, event filter or body limit (`source:write`).
#[utoipa::path(patch, path = "/v1/sources/{id}", tag = "sources", params(("id" = String, Path)),
    request_body = PatchSource, responses((status = 200, body = SourceView), (status = 404, description = "not_found")))]
async fn patch_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchSource>,
) -> Result<Json<SourceView>, ApiError> {
    let mut source = source_for(&state, &principal, &id, Scope::SourceWrite).await?;
    let patch = SourcePatch {
        name: body
            .name
            .as_deref()
            .map(|n| validate_name("name", n))
            .transpose()?,
        workflow_id: body
            .workflow_id
            .as_deref()
            .map(validate_workflow_id)
            .transpose()?,
        enabled: body.enabled,
        event_filter: body.event_filter.map(validate_filter).transpose()?,
        max_body_bytes: body.max_body_bytes.map(validate_max_body).transpose()?,
        quiet_after_s: body
            .quiet_after_s
            .map(|value| value.map(validate_quiet_after).transpose())
            .transpose()?,
    };
    patch.apply(&mut source, Utc::now());
    let entry = audit(
        &principal,
        &source,
        AuditAction::SourceUpdated,
        serde_json::json!({
            "enabled": source.enabled,
            "event_filter": source.event_filter,
            "max_body_bytes": source.max_body_bytes,
            "workflow_id": source.workflow_id,
        }),
    );
    if !state.store().update_source(&source, &entry).await? {
        return Err(ApiError::not_found());
    }
    state.ingress().invalidate(&source.id);
    Ok(Json(view(&state, source).await?))
}

/// Delete a source: its URL answers 404 at once; its events and runs stay readable (`source:write`).
#[utoipa::path(delete, path = "/v1/sources/{id}", tag = "sources", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, description = "not_found")))]
async fn delete_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SourceWrite).await?;
    let entry = audit(
        &principal,
        &source,
        AuditAction::SourceDeleted,
        serde_json::json!({ "name": source.name }),
    );
    if !state
        .store()
        .delete_source(&source.id, Utc::now(), &entry)
        .await?
    {
        return Err(ApiError::not_found());
    }
    state.ingress().invalidate(&source.id);
    Ok(StatusCode::NO_CONTENT)
}

/// A source's secrets: metadata only, newest first (`source:read`).
#[utoipa::path(get, path = "/v1/sources/{id}/secrets", tag = "sources", operation_id = "list_source_secrets", params(("id" = String, Path)),
    responses((status = 200, body = SecretList)))]
async fn list_secrets(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SecretList>, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SourceRead).await?;
    Ok(Json(secrets::list(&state, &owner(&source)).await?))
}

/// Rotate: a new current secret; the previous ones keep verifying until now + grace (`secret:rotate`).
#[utoipa::path(post, path = "/v1/sources/{id}/secrets/rotate", tag = "sources", operation_id = "rotate_source_secret", params(("id" = String, Path)),
    request_body = RotateSecret, responses((status = 200, body = RotatedSecret)))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SecretRotate).await?;
    Ok(Json(
        secrets::rotate(&state, &principal, &owner(&source), &body).await?,
    ))
}

/// Expire a secret now, e.g. after a compromise (`secret:rotate`).
#[utoipa::path(delete, path = "/v1/sources/{id}/secrets/{secret_id}", tag = "sources", operation_id = "expire_source_secret",
    params(("id" = String, Path), ("secret_id" = String, Path)),
    responses((status = 204, description = "expired"), (status = 404, description = "not_found")))]
async fn expire_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SecretRotate).await?;
    secrets::expire(&state, &principal, &owner(&source), &secret_id).await
}

/// Recent refused requests of a source: time, reason, header names (`source:read`).
#[utoipa::path(get, path = "/v1/sources/{id}/rejections", tag = "sources", params(("id" = String, Path)),
    responses((status = 200, body = RejectionList)))]
async fn list_rejections(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<RejectionList>, ApiError> {
    let source = source_for(&state, &principal, &id, Scope::SourceRead).await?;
    let rejections = state
        .store()
        .list_rejections(&source.id, crate::ingress::REJECTIONS_KEPT)
        .await?;
    Ok(Json(RejectionList {
        data: rejections
            .into_iter()
            .map(|r| RejectionView {
                at: r.at,
                reason: r.reason,
                headers_present: r.headers_present,
                detail: r.detail,
            })
            .collect(),
    }))
}
