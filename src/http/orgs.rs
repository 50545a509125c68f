//! `/v1/orgs`: create and list (operator) and read.

use super::error::ApiError;
use super::extract::{cursor, ApiJson, ApiQuery, ListParams};
use super::AppState;
use crate::auth::{Denied, Principal};
use crate::store::{AuditAction, AuditEntry, Org, OrgSlug};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_org, list_orgs))
        .routes(routes!(get_org))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// 2–63 of a-z, 0-9 and '-'; the org's id in URLs.
    slug: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgView {
    slug: String,
    name: String,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
}

impl From<Org> for OrgView {
    fn from(org: Org) -> Self {
        Self {
            slug: org.slug.to_string(),
            name: org.name,
            created_at: org.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgList {
    data: Vec<OrgView>,
    next_cursor: Option<String>,
}

/// A path's org slug; a malformed one cannot exist, so it is a 404.
pub fn org_slug(value: &str) -> Result<OrgSlug, ApiError> {
    OrgSlug::parse(value).map_err(|_| ApiError::not_found())
}

/// The org, if it exists and the caller may see it (404 otherwise, either way).
pub async fn visible_org(
    state: &AppState,
    principal: &Principal,
    slug: &str,
) -> Result<OrgSlug, ApiError> {
    let slug = org_slug(slug)?;
    principal.member_of(&slug)?;
    state
        .store()
        .find_org(&slug)
        .await?
        .map(|org| org.slug)
        .ok_or_else(ApiError::not_found)
}

pub fn validate_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation(field, "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// Create an org (operator token only).
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = CreateOrg, responses(
    (status = 201, body = OrgView),
    (status = 403, description = "operator_required"),
    (status = 409, description = "conflict: the slug is taken"),
    (status = 422, description = "validation_failed"),
))]
async fn create_org(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateOrg>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    if !matches!(principal, Principal::Operator) {
        return Err(Denied::OperatorRequired.into());
    }
    let slug = OrgSlug::parse(&body.slug).map_err(|reason| ApiError::validation("slug", reason))?;
    let org = Org {
        slug: slug.clone(),
        name: validate_name("name", &body.name)?,
        created_at: Utc::now(),
    };
    let audit = AuditEntry::new(
        &slug,
        principal.actor(),
        AuditAction::OrgCreated,
        slug.as_str(),
        serde_json::json!({ "name": org.name }),
    );
    state.store().create_org(&org, &audit).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// List every org, alphabetical by slug (operator token only).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", params(ListParams), responses(
    (status = 200, body = OrgList),
    (status = 403, description = "operator_required"),
    (status = 422, description = "validation_failed: limit or cursor"),
))]
async fn list_orgs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<OrgList>, ApiError> {
    if !matches!(principal, Principal::Operator) {
        return Err(Denied::OperatorRequired.into());
    }
    let page = state.store().list_orgs(&params.page()?).await?;
    Ok(Json(OrgList {
        data: page.items.into_iter().map(OrgView::from).collect(),
        next_cursor: cursor(page.next),
    }))
}

/// Read an org (operator or any key of the org).
#[utoipa::path(get, path = "/v1/orgs/{org}", tag = "orgs", params(("org" = String, Path)), responses(
    (status = 200, body = OrgView),
    (status = 404, description = "not_found (also for another org's slug)"),
))]
async fn get_org(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
) -> Result<Json<OrgView>, ApiError> {
    let slug = org_slug(&org)?;
    principal.member_of(&slug)?;
    let org = state
        .store()
        .find_org(&slug)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(org.into()))
}
