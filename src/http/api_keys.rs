//! API keys: minted and revoked with the operator token only (SPEC §7).

use super::error::ApiError;
use super::extract::{cursor, ApiJson, ApiQuery, ListParams};
use super::orgs::{validate_name, visible_org};
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::crypto::{random_token, token_hash};
use crate::id::new_id;
use crate::store::{ApiKey, AuditAction, AuditEntry};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(mint_key, list_keys))
        .routes(routes!(revoke_key))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintKey {
    pub(super) name: String,
    /// Empty or absent: every scope.
    #[serde(default)]
    pub(super) scopes: Vec<Scope>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            scopes: key.scopes,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MintedKey {
    pub(super) id: String,
    pub(super) name: String,
    scopes: Vec<Scope>,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    /// The key itself: shown this once, stored only as a hash.
    pub(super) key: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    data: Vec<ApiKeyView>,
    next_cursor: Option<String>,
}

/// Mint an API key (operator token only). The key is in this response and nowhere else.
#[utoipa::path(post, path = "/v1/orgs/{org}/api-keys", tag = "api-keys", params(("org" = String, Path)),
    request_body = MintKey, responses(
    (status = 201, body = MintedKey),
    (status = 403, description = "operator_required"),
    (status = 404, description = "not_found"),
    (status = 422, description = "validation_failed"),
))]
async fn mint_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<MintKey>,
) -> Result<(StatusCode, Json<MintedKey>), ApiError> {
    let minted = mint(&state, &principal, &org, body).await?;
    Ok((StatusCode::CREATED, Json(minted)))
}

/// A new API key of `org` (operator only), audited; its token is in the answer and
/// nowhere else. The REST API and the console both call this.
pub(super) async fn mint(
    state: &AppState,
    principal: &Principal,
    org: &str,
    body: MintKey,
) -> Result<MintedKey, ApiError> {
    let org = visible_org(state, principal, org).await?;
    principal.operator_for(&org)?;
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    let key = ApiKey {
        id: new_id("key"),
        org: org.clone(),
        name: validate_name("name", &body.name)?,
        scopes,
        created_at: Utc::now(),
        revoked_at: None,
    };
    let token = random_token("hg_");
    let audit = AuditEntry::new(
        &org,
        principal.actor(),
        AuditAction::ApiKeyMinted,
        &key.id,
        serde_json::json!({ "name": key.name, "scopes": key.scopes }),
    );
    state
        .store()
        .insert_api_key(&key, &token_hash(token.expose()), &audit)
        .await?;
    Ok(MintedKey {
        id: key.id,
        name: key.name,
        scopes: key.scopes,
        created_at: key.created_at,
        key: token.expose_str().unwrap_or_default().to_owned(),
    })
}

/// List an org's API keys, metadata only (operator token only).
#[utoipa::path(get, path = "/v1/orgs/{org}/api-keys", tag = "api-keys",
    params(("org" = String, Path), ListParams), responses(
    (status = 200, body = ApiKeyList),
    (status = 403, description = "operator_required"),
))]
async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.operator_for(&org)?;
    let page = state.store().list_api_keys(&org, &params.page()?).await?;
    Ok(Json(ApiKeyList {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: cursor(page.next),
    }))
}

/// Revoke an API key at once (operator token only). Idempotent.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = String, Path)), responses(
    (status = 204, description = "revoked"),
    (status = 403, description = "operator_required"),
    (status = 404, description = "not_found"),
))]
async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the key at once (operator only), audited; idempotent. Its console sessions
/// end with it. The REST API and the console both call this.
pub(super) async fn revoke(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<crate::store::OrgSlug, ApiError> {
    let key = state
        .store()
        .find_api_key(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.operator_for(&key.org)?;
    let audit = AuditEntry::new(
        &key.org,
        principal.actor(),
        AuditAction::ApiKeyRevoked,
        &key.id,
        serde_json::json!({ "name": key.name }),
    );
    state
        .store()
        .revoke_api_key(&key.id, Utc::now(), &audit)
        .await?;
    Ok(key.org)
}
