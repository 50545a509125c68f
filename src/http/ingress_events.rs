//! The ingress event log (SPEC §11): what a source received, each event with its
//! payload and lineage (verified by → run → run events → deliveries), and replay.

use super::error::ApiError;
use super::extract::{cursor, ApiQuery, ListParams};
use super::orgs::visible_org;
use super::AppState;
use crate::auth::{Principal, Scope};
use crate::id::new_id;
use crate::ingress::forwarded_headers;
use crate::runs::{new_run, Origin, RunSpec};
use crate::store::{
    AuditAction, AuditEntry, Delivery, EventDisposition, IngressEvent, IngressEventFilter,
    IngressEventRecord, Run, RunStatus,
};
use crate::telemetry::current_or_child;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_source_events))
        .routes(routes!(list_org_events))
        .routes(routes!(get_event))
        .routes(routes!(replay_event))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IngressEventView {
    pub(super) id: String,
    pub(super) source_id: String,
    #[serde(serialize_with = "super::timestamp::micros")]
    pub(super) received_at: DateTime<Utc>,
    /// accepted, ignored or handshake.
    pub(super) status: &'static str,
    pub(super) event_name: Option<String>,
    /// The sender's delivery id, when its scheme has one.
    pub(super) dedup_key: Option<String>,
    pub(super) run_id: Option<String>,
    /// Later requests with the same de-dup key, answered as duplicates of this one.
    pub(super) duplicates: u32,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    pub(super) last_duplicate_at: Option<DateTime<Utc>>,
    pub(super) body_bytes: u64,
    /// The body is past the payload retention and no longer kept.
    pub(super) body_expired: bool,
}

impl From<IngressEvent> for IngressEventView {
    fn from(event: IngressEvent) -> Self {
        Self {
            id: event.id,
            source_id: event.source_id,
            received_at: event.received_at,
            status: event.status.as_str(),
            event_name: event.event_name,
            dedup_key: event.dedup_key,
            run_id: event.run_id,
            duplicates: event.duplicates,
            last_duplicate_at: event.last_duplicate_at,
            body_bytes: event.body_bytes,
            body_expired: event.body_expired,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IngressEventList {
    data: Vec<IngressEventView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SourceEventParams {
    /// accepted, ignored or handshake.
    status: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgEventParams {
    source_id: Option<String>,
    /// The sender's delivery id: `X-GitHub-Delivery`, Stripe's `evt_…`, `webhook-id`.
    dedup_key: Option<String>,
    /// accepted, ignored or handshake.
    status: Option<String>,
    /// Received at or after this RFC 3339 time.
    since: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    cursor: Option<String>,
}

fn parse_status(value: Option<&str>) -> Result<Option<EventDisposition>, ApiError> {
    value
        .map(|s| {
            EventDisposition::parse(s)
                .ok_or_else(|| ApiError::validation("status", "accepted, ignored or handshake"))
        })
        .transpose()
}

async fn list(
    state: &AppState,
    org: &crate::store::OrgSlug,
    filter: IngressEventFilter,
    limit: Option<usize>,
    cursor_param: Option<String>,
) -> Result<Json<IngressEventList>, ApiError> {
    let page = ListParams {
        limit,
        cursor: cursor_param,
    }
    .page()?;
    let events = state
        .store()
        .list_ingress_events(org, &filter, &page)
        .await?;
    Ok(Json(IngressEventList {
        data: events.items.into_iter().map(Into::into).collect(),
        next_cursor: cursor(events.next),
    }))
}

/// What a source received, newest first (`source:read`).
#[utoipa::path(get, path = "/v1/sources/{id}/events", tag = "ingress-events",
    params(("id" = String, Path), SourceEventParams), responses((status = 200, body = IngressEventList)))]
async fn list_source_events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<SourceEventParams>,
) -> Result<Json<IngressEventList>, ApiError> {
    let source = state
        .store()
        .find_source(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&source.org, Scope::SourceRead)?;
    let filter = IngressEventFilter {
        source_id: Some(source.id),
        status: parse_status(params.status.as_deref())?,
        ..IngressEventFilter::default()
    };
    list(&state, &source.org, filter, params.limit, params.cursor).await
}

/// An org's inbound events across its sources, newest first; `dedup_key` finds a
/// sender's delivery in one call (`source:read`).
#[utoipa::path(get, path = "/v1/orgs/{org}/ingress-events", tag = "ingress-events",
    params(("org" = String, Path), OrgEventParams), responses((status = 200, body = IngressEventList)))]
async fn list_org_events(
    State(state): State<AppState>,
    principal: Principal,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<OrgEventParams>,
) -> Result<Json<IngressEventList>, ApiError> {
    let org = visible_org(&state, &principal, &org).await?;
    principal.allows(&org, Scope::SourceRead)?;
    let filter = IngressEventFilter {
        source_id: params.source_id,
        status: parse_status(params.status.as_deref())?,
        dedup_key: params.dedup_key,
        since: params.since,
    };
    list(&state, &org, filter, params.limit, params.cursor).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifiedBy {
    pub(super) secret_id: String,
    /// The secret's fingerprint (never the secret); null once the secret is deleted.
    pub(super) fingerprint: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LineageRunEvent {
    /// Its place in the run's timeline, from 1.
    pub(super) seq: u32,
    #[serde(rename = "type")]
    pub(super) event_type: String,
    #[serde(serialize_with = "super::timestamp::micros")]
    pub(super) occurred_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LineageRun {
    pub(super) id: String,
    pub(super) status: RunStatus,
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    pub(super) published_at: Option<DateTime<Utc>>,
    pub(super) events: Vec<LineageRunEvent>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LineageDelivery {
    pub(super) id: String,
    pub(super) endpoint_id: String,
    pub(super) event_type: String,
    /// As stored: pending, delivered or failed.
    pub(super) status: &'static str,
    pub(super) attempts: u32,
}

impl From<Delivery> for LineageDelivery {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            event_type: delivery.event_type,
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
        }
    }
}

/// Every step from the sender's request to the product backends' receipts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Lineage {
    #[serde(serialize_with = "super::timestamp::micros")]
    pub(super) received_at: DateTime<Utc>,
    pub(super) verified_by: VerifiedBy,
    /// Null for ignored and handshake events.
    pub(super) run: Option<LineageRun>,
    pub(super) deliveries: Vec<LineageDelivery>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IngressEventDetail {
    /// The event's org (in the URL of each console link; not part of the answer).
    #[serde(skip)]
    pub(super) org: crate::store::OrgSlug,
    #[serde(flatten)]
    pub(super) event: IngressEventView,
    /// The request's headers: credentials dropped, signatures `[redacted]`.
    #[schema(value_type = Object)]
    pub(super) headers: serde_json::Map<String, serde_json::Value>,
    /// The body as received, when it is UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) body: Option<String>,
    /// The body as received, base64, when it is not UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) body_base64: Option<String>,
    pub(super) lineage: Lineage,
}

async fn event_for(
    state: &AppState,
    principal: &Principal,
    id: &str,
    scope: Scope,
) -> Result<IngressEventRecord, ApiError> {
    let record = state
        .store()
        .find_ingress_event(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    principal.allows(&record.event.org, scope)?;
    Ok(record)
}

/// One event: its headers, its body and its lineage (`source:read`).
#[utoipa::path(get, path = "/v1/ingress-events/{id}", tag = "ingress-events",
    params(("id" = String, Path)), responses((status = 200, body = IngressEventDetail)))]
async fn get_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<IngressEventDetail>, ApiError> {
    Ok(Json(event_detail(&state, &principal, &id).await?))
}

/// An event with its headers, body and lineage, as `principal` may read it; the REST
/// API and the console's event page both show this.
pub(super) async fn event_detail(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<IngressEventDetail, ApiError> {
    let record = event_for(state, principal, id, Scope::SourceRead).await?;
    let event = &record.event;
    let fingerprint = state
        .store()
        .list_secrets(&event.source_id)
        .await?
        .into_iter()
        .find(|secret| secret.id == event.secret_id)
        .map(|secret| secret.fingerprint);
    let run = match &event.run_id {
        Some(run_id) => state.store().find_run(run_id).await?,
        None => None,
    };
    let (run, deliveries) = match run {
        Some(run) => {
            let (events, deliveries) = state.store().run_lineage(&event.org, &run.id).await?;
            (Some(lineage_run(run, events)), deliveries)
        }
        None => (None, Vec::new()),
    };
    let (body, body_base64) = match record.body {
        Some(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => (Some(text), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            ),
        },
        None => (None, None),
    };
    let lineage = Lineage {
        received_at: event.received_at,
        verified_by: VerifiedBy {
            secret_id: event.secret_id.clone(),
            fingerprint,
        },
        run,
        deliveries: deliveries.into_iter().map(Into::into).collect(),
    };
    Ok(IngressEventDetail {
        org: record.event.org.clone(),
        event: record.event.into(),
        headers: record.headers,
        body,
        body_base64,
        lineage,
    })
}

fn lineage_run(run: Run, events: Vec<crate::store::RunEventSummary>) -> LineageRun {
    LineageRun {
        events: events
            .into_iter()
            .zip(1..)
            .map(|(event, seq)| LineageRunEvent {
                seq,
                event_type: event.event_type,
                occurred_at: event.occurred_at,
            })
            .collect(),
        id: run.id,
        status: run.status,
        published_at: run.published_at,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayedRun {
    pub(super) id: String,
    pub(super) status: RunStatus,
    /// The event replayed.
    pub(super) replay_of: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    pub(super) run: ReplayedRun,
}

/// Run the event's workflow again from its stored body and headers, as a new run with
/// `trigger.type = "replay"` (`run:trigger`).
#[utoipa::path(post, path = "/v1/ingress-events/{id}/replay", tag = "ingress-events",
    params(("id" = String, Path)), responses(
        (status = 201, body = Replayed),
        (status = 409, description = "payload_expired (the body is past retention) or not_replayable (an ignored or handshake event, or its source is deleted)"),
    ))]
async fn replay_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    request_headers: HeaderMap,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let traceparent = request_headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    let replayed = replay(&state, &principal, &id, traceparent).await?;
    Ok((StatusCode::CREATED, Json(replayed)))
}

/// A new run of the event's workflow from its stored body and headers (`run:trigger`),
/// audited; the REST API and the console's replay button both call this.
pub(super) async fn replay(
    state: &AppState,
    principal: &Principal,
    id: &str,
    parent_traceparent: Option<&str>,
) -> Result<Replayed, ApiError> {
    let record = event_for(state, principal, id, Scope::RunTrigger).await?;
    let event = &record.event;
    let conflict = |code, message: &str| {
        ApiError::new(
            StatusCode::CONFLICT,
            code,
            format!("{}: {message}", event.id),
        )
    };
    if event.status != EventDisposition::Accepted {
        return Err(conflict(
            "not_replayable",
            "only an accepted event started a run to replay",
        ));
    }
    let Some(body) = &record.body else {
        return Err(conflict(
            "payload_expired",
            "its body is past the payload retention",
        ));
    };
    let source = state
        .store()
        .find_source(&event.source_id)
        .await?
        .ok_or_else(|| conflict("not_replayable", "its source is deleted"))?;
    let workflow_id = match &event.run_id {
        Some(run_id) => state.store().find_run(run_id).await?.map(|r| r.workflow_id),
        None => None,
    }
    .unwrap_or_else(|| source.workflow_id.clone());
    let forwarded = forwarded_again(&record.headers, Some(&source.verifier));
    let traceparent = current_or_child(parent_traceparent);
    let run = new_run(RunSpec {
        id: new_id("run"),
        org: &event.org,
        workflow_id: &workflow_id,
        origin: Some(Origin {
            source_id: &source.id,
            verifier: source.verifier.kind().as_str(),
            event_id: &event.id,
            replay: true,
        }),
        at: Utc::now(),
        input: body,
        headers: &forwarded,
        traceparent,
        retry_of: None,
    });
    let audit = AuditEntry::new(
        &event.org,
        principal.actor(),
        AuditAction::IngressEventReplayed,
        &event.id,
        serde_json::json!({"run_id": run.id, "source_id": source.id}),
    );
    state.store().create_run_audited(&run, &audit).await?;
    state.wake_relay();
    Ok(Replayed {
        run: ReplayedRun {
            id: run.id,
            status: RunStatus::Queued,
            replay_of: event.id.clone(),
        },
    })
}

/// The headers a run made again from a recorded event carries: those of the event's
/// kept headers that a webhook's run forwards (with `verifier`'s configured ones).
pub(super) fn forwarded_again(
    kept: &serde_json::Map<String, serde_json::Value>,
    verifier: Option<&crate::verify::VerifierConfig>,
) -> serde_json::Map<String, serde_json::Value> {
    let configured = verifier.map(|v| v.configured_headers()).unwrap_or_default();
    forwarded_headers(&stored_headers(kept), &configured)
}

/// The kept headers back as a header map, for the forwarded-header selection.
fn stored_headers(kept: &serde_json::Map<String, serde_json::Value>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in kept {
        let (Ok(name), Some(Ok(value))) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(axum::http::HeaderValue::from_str),
        ) else {
            continue;
        };
        headers.insert(name, value);
    }
    headers
}
