//! Outermost middleware: request id, error envelopes, HTTP metrics, access log.

use super::client_address::client_address;
use super::error::ApiError;
use super::AppState;
use crate::id::new_id;
use crate::metrics::{HttpRequestLabels, RouteLabels};
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
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

/// The request's principal, filled in by the `Principal` extractor, read by the access
/// line (key id or `operator`, never a token).
#[derive(Clone, Default)]
pub struct PrincipalSlot(Arc<OnceLock<String>>);

impl PrincipalSlot {
    pub fn set(&self, principal: &str) {
        let _ = self.0.set(principal.to_owned());
    }
}

/// A metric label for the method from a closed set, so no client can add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Text the store cannot hold in a path or query (SPEC §16): NUL anywhere in the
/// decoded path is an unknown resource; in a query parameter, a 422 naming it.
fn unstorable_target(request: &Request) -> Option<ApiError> {
    let uri = request.uri();
    let path_has_nul = percent_encoding::percent_decode_str(uri.path()).any(|b| b == 0);
    if path_has_nul {
        return Some(ApiError::not_found());
    }
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| {
            ApiError::validation(&crate::storable::printable(&name), "must not contain NUL")
        })
}

pub async fn request_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let client = client_address(peer, request.headers(), state.trusted_proxies());
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect::<String>());
    let principal = PrincipalSlot::default();
    request.extensions_mut().insert(principal.clone());
    // Handlers fill in what they learn (ingress: the source, its verifier and the
    // outcome) instead of opening a span of their own: one span per request is enough
    // on the hot path. Exported, it joins the caller's trace (SPEC §14).
    let span = request_span(&id, method, &route, request.headers());
    let mut response = match unstorable_target(&request) {
        Some(error) => error.into_response(),
        None => next.run(request).instrument(span.clone()).await,
    };
    let status = response.status();
    let mut error = None;
    if status.is_client_error() || status.is_server_error() {
        let (rendered, api_error) = render_error(response, &id);
        response = rendered;
        error = Some(api_error);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.record("http.response.status_code", status.as_u16());
    let elapsed = started.elapsed();
    let metrics = state.metrics();
    metrics
        .http_requests
        .get_or_create(&HttpRequestLabels {
            route: route.clone(),
            method,
            status: status.as_u16(),
        })
        .inc();
    metrics
        .http_request_duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(elapsed.as_secs_f64());
    let access = AccessLine {
        id: &id,
        method,
        route: &route,
        status,
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        client,
        user_agent: user_agent.as_deref(),
        principal: principal.0.get().map(String::as_str),
    };
    let _entered = span.enter();
    access.log(error.as_ref());
    response
}

/// The request's span: `ingress.receive` for the senders' door, `http` for the rest.
fn request_span(
    id: &str,
    method: &'static str,
    route: &str,
    headers: &http::HeaderMap,
) -> tracing::Span {
    use tracing::field::Empty;
    let span = if route == INGRESS_ROUTE {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok());
        tracing::info_span!("ingress.receive", request.id = %id, http.request.method = method,
            http.route = %route, server.address = host, source.id = Empty, verifier = Empty,
            outcome = Empty, http.response.status_code = Empty)
    } else {
        tracing::info_span!("http", request.id = %id, http.request.method = method,
            http.route = %route, http.response.status_code = Empty)
    };
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    crate::telemetry::set_parent(&span, traceparent);
    span
}

/// The senders' door, as the router names it.
const INGRESS_ROUTE: &str = "/v1/ingress/{source_id}";

/// One line per request (SPEC §16). 4xx are the client's business, not warnings; a 5xx
/// is logged once, here, with its cause; an expected 5xx (readiness during an outage)
/// stays at INFO because the outage itself is logged when it starts and ends.
struct AccessLine<'a> {
    id: &'a str,
    method: &'static str,
    route: &'a str,
    status: StatusCode,
    duration_ms: f64,
    client: Option<std::net::IpAddr>,
    user_agent: Option<&'a str>,
    principal: Option<&'a str>,
}

impl AccessLine<'_> {
    fn log(&self, error: Option<&ApiError>) {
        let client = self.client.map(tracing::field::display);
        let (code, cause) = match error {
            Some(e) => (Some(e.code), e.cause.as_deref()),
            None => (None, None),
        };
        let expected = error.is_some_and(|e| e.expected);
        macro_rules! line {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level,
                    request.id = self.id,
                    http.request.method = self.method,
                    http.route = self.route,
                    http.response.status_code = self.status.as_u16(),
                    duration_ms = self.duration_ms,
                    client.address = client,
                    user_agent.original = self.user_agent,
                    principal = self.principal,
                    error.code = code,
                    error.cause = cause,
                    $message
                )
            };
        }
        if !self.status.is_server_error() || expected {
            line!(tracing::Level::INFO, "request");
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            line!(tracing::Level::WARN, "request failed");
        } else {
            line!(tracing::Level::ERROR, "request failed");
        }
    }
}

/// Replaces the body of an error response with the envelope; an HTML page (the
/// console's own error page, meant for a person) is kept as it is.
fn render_error(response: Response, request_id: &str) -> (Response, ApiError) {
    let (mut parts, body) = response.into_parts();
    let error = parts
        .extensions
        .remove::<ApiError>()
        .unwrap_or_else(|| ApiError::for_status(parts.status));
    let is_html = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        return (Response::from_parts(parts, body), error);
    }
    let body = error.envelope(request_id).to_string();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    (Response::from_parts(parts, Body::from(body)), error)
}
