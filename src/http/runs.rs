//! Runs (SPEC §4): the direct trigger API for product backends, and run status.

use super::error::ApiError;
use super::extract::{cursor, parse_json, ApiQuery};
use super::orgs::visible_org;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::id::new_id;
use crate::runs::{new_run, RunSpec};
use crate::store::{
    CancelOutcome, Idempotency, Run, RunEvent, RunFilter, RunStatus, TriggerOutcome,
};
use crate::telemetry::current_or_child;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_run))
        .routes(routes!(list_runs))
        .routes(routes!(trigger_run))
        .routes(routes!(cancel_run))
        .routes(routes!(retry_run))
}

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Largest trigger request body.
const MAX_TRIGGER_BYTES: usize = 1024 * 1024;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TriggerView {
    /// `webhook` or `api`.
    #[serde(rename = "type")]
    kind: String,
    source_id: Option<String>,
    event_id: Option<String>,
    /// The run a `retry` starts again.
    retry_of: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunView {
    id: String,
    org: String,
    workflow_id: String,
    status: RunStatus,
    trigger: TriggerView,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros")]
    updated_at: DateTime<Utc>,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    published_at: Option<DateTime<Utc>>,
    /// When a cancel was asked for; the run is `cancelled` once the scheduler says so.
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    cancel_requested_at: Option<DateTime<Utc>>,
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
                retry_of: run.retry_of,
            },
            created_at: run.created_at,
            updated_at: run.updated_at,
            published_at: run.published_at,
            cancel_requested_at: run.cancel_requested_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RetriedRunView {
    pub(super) id: String,
    status: RunStatus,
    retry_of: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RetryAnswer {
    run: RetriedRunView,
}

/// Start a failed or cancelled run again, with the same input, as a new run with
/// `trigger.type = "retry"` (`run:trigger`).
#[utoipa::path(post, path = "/v1/runs/{id}/retry", tag = "runs", params(("id" = String, Path)),
    responses((status = 201, body = RetryAnswer),
              (status = 409, description = "run_not_retryable (not failed or cancelled), or payload_expired (its input is past retention)")))]
async fn retry_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<RetryAnswer>), ApiError> {
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let run = retry(&state, &principal, &id, traceparent).await?;
    Ok((StatusCode::CREATED, Json(RetryAnswer { run })))
}

/// A failed or cancelled run started again with the same input (`run:trigger`); the
/// REST API and the console's retry button both call this.
pub(super) async fn retry(
    state: &AppState,
    principal: &Principal,
    id: &str,
    parent_traceparent: Option<&str>,
) -> Result<RetriedRunView, ApiError> {
    let run = state
        .store()
        .find_run(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&run.org, Scope::RunTrigger)?;
    if !matches!(run.status, RunStatus::Failed | RunStatus::Cancelled) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "run_not_retryable",
            format!(
                "{} is {}: only a failed or cancelled run is retried",
                run.id,
                run.status.as_str()
            ),
        ));
    }
    let expired = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "payload_expired",
            format!("{}: its input is past the payload retention", run.id),
        )
    };
    // A webhook run's input is its event's body; other runs keep their own.
    let (input, forwarded) = match &run.event_id {
        Some(event_id) => {
            let record = state
                .store()
                .find_ingress_event(event_id)
                .await?
                .ok_or_else(expired)?;
            let body = record.body.ok_or_else(expired)?;
            let source = match &run.source_id {
                Some(source_id) => state.store().find_source(source_id).await?,
                None => None,
            };
            let verifier = source.as_ref().map(|s| &s.verifier);
            let forwarded = super::ingress_events::forwarded_again(&record.headers, verifier);
            (body, forwarded)
        }
        None => (
            state
                .store()
                .run_input(&run.id)
                .await?
                .ok_or_else(expired)?,
            serde_json::Map::new(),
        ),
    };
    let traceparent = current_or_child(parent_traceparent);
    let retry = new_run(RunSpec {
        id: new_id("run"),
        org: &run.org,
        workflow_id: &run.workflow_id,
        origin: None,
        at: Utc::now(),
        input: &input,
        headers: &forwarded,
        traceparent,
        retry_of: Some(&run.id),
    });
    state.store().trigger_run(&retry, None).await?;
    state.wake_relay();
    Ok(RetriedRunView {
        id: retry.id,
        status: RunStatus::Queued,
        retry_of: run.id,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CancelledRunView {
    id: String,
    status: RunStatus,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    cancel_requested_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CancelAnswer {
    run: CancelledRunView,
}

/// Ask the scheduler to cancel a run (`run:cancel`): a `run.cancel_requested.{workflow_id}`
/// message goes out through the outbox, once however often this is called (202). A run
/// that has ended answers 200 and nothing is sent.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path)),
    responses((status = 202, body = CancelAnswer, description = "requested (now or before)"),
              (status = 200, body = CancelAnswer, description = "the run has ended: nothing to cancel")))]
async fn cancel_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let (status, run) = cancel(&state, &principal, &id, traceparent).await?;
    Ok((
        status,
        Json(CancelAnswer {
            run: CancelledRunView {
                id: run.id,
                status: run.status,
                cancel_requested_at: run.cancel_requested_at,
            },
        }),
    ))
}

/// Asks the scheduler to cancel the run (`run:cancel`): 202 with the run when asked
/// (now or before), 200 when it had ended. The REST API and the console both call this.
pub(super) async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: &str,
    parent_traceparent: Option<&str>,
) -> Result<(StatusCode, crate::store::Run), ApiError> {
    let run = state
        .store()
        .find_run(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&run.org, Scope::RunCancel)?;
    let now = Utc::now();
    let traceparent = current_or_child(parent_traceparent);
    let actor = principal.actor();
    let request = crate::runs::cancel_request(&run, &actor, now, traceparent);
    let (status, run) = match state.store().request_cancel(&request).await? {
        CancelOutcome::NotFound => return Err(ApiError::not_found()),
        CancelOutcome::Ended(run) => (StatusCode::OK, run),
        CancelOutcome::Requested(run) => {
            state.wake_relay();
            (StatusCode::ACCEPTED, run)
        }
        CancelOutcome::AlreadyRequested(run) => (StatusCode::ACCEPTED, run),
    };
    if status == StatusCode::ACCEPTED {
        // hookgate's own event in the run's timeline; its fixed id makes a repeated
        // request (or one after a failed first try) record it once.
        let requested_at = run.cancel_requested_at.unwrap_or(now);
        let event = RunEvent {
            id: format!("{}.cancel_requested", run.id),
            org: run.org.clone(),
            event_type: "run.cancel_requested".into(),
            run_id: Some(run.id.clone()),
            workflow_id: Some(run.workflow_id.clone()),
            occurred_at: requested_at,
            data: serde_json::json!({"actor": actor}),
            received_at: now,
            traceparent: None,
        };
        state
            .run_event_writer()
            .try_record(event)
            .await
            .map_err(super::events::intake_error)?;
    }
    Ok((status, run))
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunListParams {
    /// queued, published, running, completed, failed or cancelled.
    status: Option<String>,
    workflow_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunList {
    data: Vec<RunView>,
    next_cursor: Option<String>,
}

/// An org's runs, newest first, filtered by status and workflow (`run:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/runs", tag = "runs",
    params(("org" = String, Path), RunListParams), responses((status = 200, body = RunList)))]
async fn list_runs(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<RunListParams>,
) -> Result<Json<RunList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::RunRead)?;
    let status = params
        .status
        .as_deref()
        .map(|s| {
            RunStatus::parse(s).ok_or_else(|| ApiError::validation("status", "unknown run status"))
        })
        .transpose()?;
    let page = super::extract::ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page()?;
    let filter = RunFilter {
        status,
        workflow_id: params.workflow_id,
    };
    let runs = state.store().list_runs(&org, &filter, &page).await?;
    Ok(Json(RunList {
        data: runs.items.into_iter().map(Into::into).collect(),
        next_cursor: cursor(runs.next),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRun {
    /// The workflow's input; any JSON (default `{}`).
    #[schema(value_type = Object)]
    input: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TriggeredRunView {
    id: String,
    status: RunStatus,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TriggeredRun {
    run: TriggeredRunView,
}

fn idempotency(headers: &HeaderMap, body: &[u8]) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
        .ok_or_else(|| {
            ApiError::validation(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    // Same JSON, whatever its spacing or key order, counts as the same body.
    let canonical: serde_json::Value =
        serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let body_hash = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
    Ok(Some(Idempotency {
        key: key.to_owned(),
        body_hash,
    }))
}

fn validate_workflow_id(value: &str) -> Result<(), ApiError> {
    let valid = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::validation(
            "workflow_id",
            "must be 1 to 128 of letters, digits, '_' and '-'",
        ))
    }
}

/// Start a run of `workflow_id` with `input` (`run:trigger`). With an `Idempotency-Key`,
/// repeating the request returns the same run (header `Idempotent-Replayed: true`);
/// the same key with another body is refused with 422.
#[utoipa::path(post, path = "/v1/orgs/{org}/workflows/{workflow_id}/runs", tag = "runs",
    params(("org" = String, Path), ("workflow_id" = String, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "same key + same body = same run")),
    request_body = TriggerRun, responses(
        (status = 201, body = TriggeredRun),
        (status = 422, description = "validation_failed, or idempotency_key_reused"),
    ))]
async fn trigger_run(
    State(state): State<AppState>,
    principal: Principal,
    Path((org, workflow_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::RunTrigger)?;
    validate_workflow_id(&workflow_id)?;
    let bytes = axum::body::to_bytes(body, MAX_TRIGGER_BYTES)
        .await
        .map_err(|e| super::error::body_error(&e))?;
    let request: TriggerRun = if bytes.is_empty() {
        TriggerRun { input: None }
    } else {
        parse_json(&bytes)?
    };
    let idempotency = idempotency(&headers, &bytes)?;
    let input = request.input.as_ref().map_or("{}", |raw| raw.get());
    let now = Utc::now();
    let run_id = new_id("run");
    let traceparent = current_or_child(headers.get("traceparent").and_then(|v| v.to_str().ok()));
    let run = new_run(RunSpec {
        id: run_id,
        org: &org,
        workflow_id: &workflow_id,
        origin: None,
        at: now,
        input: input.as_bytes(),
        headers: &serde_json::Map::new(),
        traceparent,
        retry_of: None,
    });
    let (status, replayed) = match state
        .store()
        .trigger_run(&run, idempotency.as_ref())
        .await?
    {
        TriggerOutcome::Created => {
            state.wake_relay();
            (RunStatus::Queued, None)
        }
        TriggerOutcome::Replayed(original) => (original.status, Some(original.id)),
        TriggerOutcome::KeyReused => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body",
            ))
        }
    };
    let was_replayed = replayed.is_some();
    let body = TriggeredRun {
        run: TriggeredRunView {
            id: replayed.unwrap_or(run.id),
            status,
        },
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if was_replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
