//! `POST /v1/ingress/{source_id}`: the senders' door (SPEC §3.3).

use super::error::ApiError;
use super::AppState;
use crate::ingress::{BodyRefusal, Receipt, Refusal};
use crate::verify::Handshake;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use bytes::BytesMut;
use chrono::Utc;
use futures_util::StreamExt;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// A body at most this much over the limit is read to its end (and dropped) before
/// the 413, so the sender sees the answer rather than a connection reset mid-upload.
/// Anything larger is cut off at once.
const DRAIN_MAX: usize = 256 * 1024;
/// How long draining may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Reads at most `limit` bytes; a longer body (chunked or not) is refused without
/// keeping more than `limit` bytes.
async fn read_body(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, BodyRefusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut stream = body.into_data_stream();
    if let Some(length) = declared.filter(|length| *length > limit as u64) {
        if length - limit as u64 <= DRAIN_MAX as u64 {
            drain(&mut stream, usize::try_from(length).unwrap_or(usize::MAX)).await;
        }
        return Err(BodyRefusal::TooLarge);
    }
    let mut collected = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| super::error::body_refusal(&e))?;
        if collected.len() + chunk.len() > limit {
            drain(&mut stream, DRAIN_MAX).await;
            return Err(BodyRefusal::TooLarge);
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// Reads and drops up to `max` more bytes, for at most `DRAIN_TIME`.
async fn drain(stream: &mut axum::body::BodyDataStream, max: usize) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut dropped = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            dropped += chunk.len();
            if dropped > max {
                break;
            }
        }
    })
    .await;
}

/// The answer body: typed, so it is written straight out without building a
/// `serde_json::Value` first (the hot path's allocations add up). A run comes as
/// `run: {id, status}` as from the trigger API; `run_id` and `status` stay beside it
/// for the senders' tooling that already reads them.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = IngressReceipt)]
struct ReceiptBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<RunRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge: Option<&'a str>,
    /// Discord's PONG: `1`, the whole answer to its PING.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    interaction_type: Option<u8>,
}

/// The run an accepted event started.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct RunRef<'a> {
    id: &'a str,
    /// `queued` when just accepted; a duplicate's run may have moved on.
    status: &'a str,
}

const NO_FIELDS: ReceiptBody<'static> = ReceiptBody {
    event_id: None,
    run: None,
    run_id: None,
    status: None,
    duplicate: None,
    challenge: None,
    interaction_type: None,
};

fn receipt_response(receipt: Receipt) -> Response {
    let (status, body) = match &receipt {
        Receipt::Accepted { event_id, run_id } => (
            StatusCode::ACCEPTED,
            ReceiptBody {
                event_id: Some(event_id),
                run: Some(RunRef {
                    id: run_id,
                    status: "queued",
                }),
                run_id: Some(run_id),
                status: Some("queued"),
                duplicate: Some(false),
                ..NO_FIELDS
            },
        ),
        Receipt::Duplicate {
            event_id,
            run_id,
            status,
        } => (
            StatusCode::OK,
            ReceiptBody {
                event_id: Some(event_id),
                run: Some(RunRef {
                    id: run_id,
                    status: status.as_str(),
                }),
                run_id: Some(run_id),
                status: Some(status.as_str()),
                duplicate: Some(true),
                ..NO_FIELDS
            },
        ),
        Receipt::Ignored { event_id } => (
            StatusCode::OK,
            ReceiptBody {
                event_id: Some(event_id),
                status: Some("ignored"),
                ..NO_FIELDS
            },
        ),
        Receipt::Handshake(Handshake::GithubPing) => (
            StatusCode::OK,
            ReceiptBody {
                status: Some("pong"),
                ..NO_FIELDS
            },
        ),
        Receipt::Handshake(Handshake::SlackUrlVerification { challenge }) => (
            StatusCode::OK,
            ReceiptBody {
                challenge: Some(challenge),
                ..NO_FIELDS
            },
        ),
        Receipt::Handshake(Handshake::DiscordPing) => (
            StatusCode::OK,
            ReceiptBody {
                interaction_type: Some(1),
                ..NO_FIELDS
            },
        ),
        // SNS reads nothing of the answer but its status.
        Receipt::Handshake(
            Handshake::SnsSubscriptionConfirmation { .. } | Handshake::SnsUnsubscribeConfirmation,
        ) => (
            StatusCode::OK,
            ReceiptBody {
                status: Some("handshake"),
                ..NO_FIELDS
            },
        ),
    };
    (status, Json(body)).into_response()
}

/// Receive a webhook. 202 once the event and its run are durable; 200 for duplicates,
/// filtered events and protocol handshakes.
#[utoipa::path(post, path = "/v1/ingress/{source_id}", tag = "ingress", security(()),
    params(("source_id" = String, Path)),
    request_body(content = String, description = "the sender's raw body, signed as the source's verifier expects"),
    responses(
        (status = 202, body = ReceiptBody, description = "accepted: the event and its run are durable"),
        (status = 200, body = ReceiptBody, description = "duplicate (same run), ignored by the event filter (`status: ignored`), or a handshake (`status: pong`, Slack's `challenge`, Discord's `type: 1`, or `status: handshake` for an SNS subscription or unsubscribe confirmation)"),
        (status = 400, description = "bad_request: the body could not be read"),
        (status = 401, description = "signature, timestamp or token refused; for SNS also the topic, the certificate URL's origin, or a certificate its host refused (`certificate_invalid`)"),
        (status = 404, description = "unknown or disabled source"),
        (status = 408, description = "body_timeout: the body did not arrive within the body read timeout"),
        (status = 413, description = "payload_too_large"),
        (status = 422, description = "validation_failed: the de-dup key or event name read from the request cannot be stored (NUL, or longer than 1 KiB)"),
        (status = 503, description = "store unavailable, or an SNS signing certificate could not be fetched (`certificate_unavailable`); retry after Retry-After"),
    ))]
async fn receive(
    State(state): State<AppState>,
    Path(source_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let url = called_url(state.public_url(), &source_id, query.as_deref());
    let read = |limit| read_body(&headers, body, limit);
    match state
        .ingress()
        .accept(&source_id, &url, &headers, read, Utc::now())
        .await
    {
        Ok(receipt) => Ok(receipt_response(receipt)),
        Err(refusal) => Err(refusal_error(refusal)),
    }
}

/// The URL the sender called, as the sender knows it: the source's `ingress_url` (under
/// the public URL, whatever proxy is in between) and the query it was called with.
/// Twilio, Square and HubSpot sign it.
fn called_url(public_url: &str, source_id: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{public_url}/v1/ingress/{source_id}?{query}"),
        None => format!("{public_url}/v1/ingress/{source_id}"),
    }
}

/// The answer to a refused request.
fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownSource => ApiError::not_found(),
        Refusal::Body(body) => body.into(),
        Refusal::Rejected(rejection) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            rejection.code(),
            rejection.to_string(),
        ),
        Refusal::Certificate(error) if error.is_sender_fault() => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "certificate_invalid",
            error.to_string(),
        ),
        Refusal::Certificate(error) => {
            let mut unavailable = ApiError::unavailable("sns_certificate");
            unavailable.code = "certificate_unavailable";
            unavailable.message = error.to_string();
            unavailable
        }
        Refusal::Store(error) => error.into(),
        Refusal::Unstorable(unstorable) => {
            ApiError::validation(unstorable.field(), unstorable.reason())
        }
        Refusal::Overloaded => {
            let mut error = ApiError::unavailable("ingress");
            error.message = "over capacity, retry later".into();
            error
        }
    }
}
