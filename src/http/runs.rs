//! `GET /v1/runs/{id}`: a run's status (SPEC §4).

use super::error::ApiError;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::store::{Run, RunStatus};
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_run))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TriggerView {
    /// `webhook` or `api`.
    #[serde(rename = "type")]
    kind: String,
    source_id: Option<String>,
    event_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunView {
    id: String,
    org: String,
    workflow_id: String,
    status: RunStatus,
    trigger: TriggerView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

impl From<Run> for RunView {
    fn from(run: Run) -> Self {
        Self {
            id: run.id,
            org: run.org.to_string(),
            workflow_id: run.workflow_id,
            status: run.status,
            trigger: TriggerView {
                kind: run.trigger_type,
                source_id: run.source_id,
                event_id: run.event_id,
            },
            created_at: run.created_at,
            updated_at: run.updated_at,
            published_at: run.published_at,
        }
    }
}

/// A run's status: queued → published → the scheduler's states (`run:read`).
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, description = "not_found")))]
async fn get_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = state
        .store()
        .find_run(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&run.org, Scope::RunRead)?;
    Ok(Json(run.into()))
}
