//! `POST /v1/orgs/{org}/events`: run events over HTTP (SPEC §6).

use super::error::ApiError;
use super::extract::ApiJson;
use super::orgs::visible_org;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::dispatch::IntakeError;
use crate::run_events::IncomingRunEvent;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(publish_event))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Published {
    event_id: String,
    /// Deliveries created (0 for a replayed event id).
    deliveries: usize,
    duplicate: bool,
}

/// Publish a run event; it fans out to the org's matching endpoints. Idempotent on
/// `event_id` (`event:publish`).
#[utoipa::path(post, path = "/v1/orgs/{org}/events", tag = "events", params(("org" = String, Path)),
    request_body = IncomingRunEvent, responses((status = 202, body = Published), (status = 422, description = "validation_failed"),
        (status = 503, description = "over capacity or store unavailable; retry after Retry-After")))]
async fn publish_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IncomingRunEvent>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::EventPublish)?;
    let mut event = body
        .validate(
            Some(&org),
            headers.get("traceparent").and_then(|v| v.to_str().ok()),
            Utc::now(),
        )
        .map_err(|e| ApiError::validation(&e.field, e.reason))?;
    let event_id = event.id.clone();
    let span = crate::dispatch::record_span(&mut event, crate::dispatch::Parent::Request);
    let recorded = state
        .run_event_writer()
        .try_record(event)
        .instrument(span)
        .await
        .map_err(intake_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Published {
            event_id,
            deliveries: recorded.deliveries,
            duplicate: !recorded.new,
        }),
    ))
}

/// 503 + Retry-After when the group commit is full or stopped, as ingress answers
/// overload; a store failure maps like any other.
pub(super) fn intake_error(error: IntakeError) -> ApiError {
    match error {
        IntakeError::Full => {
            let mut error = ApiError::unavailable("run events");
            error.message = "over capacity, retry later".into();
            error
        }
        IntakeError::Stopped => ApiError::unavailable("run events"),
        IntakeError::Failed(error) => error.into(),
    }
}
