//! Outermost middleware: request id, error envelopes, HTTP metrics, access log.

use super::error::ApiError;
use super::AppState;
use crate::id::new_id;
use crate::metrics::{HttpRequestLabels, RouteLabels};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// The caller's id if it is short printable ASCII (so it is safe to echo and log),
/// else a new one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| new_id("req"), str::to_owned)
}

pub async fn request_context(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    // Handlers fill in what they learn (ingress: the source and its verifier) instead of
    // opening a span of their own: one span per request is enough on the hot path.
    let span = tracing::info_span!("http", request.id = %id, http.method = %method,
        http.route = %route, source.id = tracing::field::Empty,
        verifier = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response = render_error(response, &id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    let metrics = state.metrics();
    metrics
        .http_requests
        .get_or_create(&HttpRequestLabels {
            route: route.clone(),
            method: method.clone(),
            status: status.as_u16(),
        })
        .inc();
    metrics
        .http_request_duration
        .get_or_create(&RouteLabels { route, method })
        .observe(elapsed.as_secs_f64());
    let _entered = span.enter();
    if status.is_server_error() {
        // 5xx is logged once, here, at the boundary.
        tracing::error!(
            http.status = status.as_u16(),
            duration_ms = elapsed.as_millis() as u64,
            "request failed"
        );
    } else {
        tracing::debug!(
            http.status = status.as_u16(),
            duration_ms = elapsed.as_millis() as u64,
            "request"
        );
    }
    response
}

/// Replaces the body of an error response with the envelope.
fn render_error(response: Response, request_id: &str) -> Response {
    let (mut parts, _body) = response.into_parts();
    let error = parts
        .extensions
        .remove::<ApiError>()
        .unwrap_or_else(|| ApiError::for_status(parts.status));
    if parts.status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error.code = error.code, "internal error");
    }
    let body = error.envelope(request_id).to_string();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Body::from(body))
}
