//! `GET /v1/orgs/{org}/audit`: who changed what, newest first.

use super::error::ApiError;
use super::extract::{cursor, ApiQuery, ListParams};
use super::orgs::visible_org;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::store::AuditEntry;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    id: String,
    /// `operator` or `api_key:<id>`.
    actor: String,
    /// e.g. `api_key_minted`, `api_key_revoked`, `secret_rotated`.
    action: String,
    /// Id of the resource acted on.
    target: String,
    #[schema(value_type = Object)]
    details: serde_json::Value,
    #[serde(serialize_with = "super::timestamp::micros")]
    at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            details: entry.details,
            at: entry.at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    data: Vec<AuditEntryView>,
    next_cursor: Option<String>,
}

/// The org's audit log (`audit:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/audit", tag = "audit",
    params(("org" = String, Path), ListParams), responses(
    (status = 200, body = AuditList),
    (status = 403, description = "scope_denied"),
    (status = 404, description = "not_found"),
))]
async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<AuditList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::AuditRead)?;
    let page = state.store().list_audit(&org, &params.page()?).await?;
    Ok(Json(AuditList {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: cursor(page.next),
    }))
}
