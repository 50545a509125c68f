//! The one mapping from failures to the HTTP error envelope (SPEC §8):
//! `{"error":{"code","message","request_id"}}`.
//!
//! Handlers return [`ApiError`]; it travels as a response extension and the
//! request-context middleware renders the body, because only it knows the request id.
//! Responses that fail outside our handlers (unknown route, 405, extractor
//! rejections) get an envelope there too.

use crate::auth::Denied;
use crate::ingress::BodyRefusal;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
    pub retry_after_s: Option<u32>,
    /// What went wrong underneath, for the request's one log line; never sent to the
    /// client (it may name tables or hosts).
    pub cause: Option<String>,
    /// A 5xx that is the right answer rather than a failure to log (readiness while a
    /// dependency is down): its access line stays at INFO.
    pub expected: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after_s: None,
            cause: None,
            expected: false,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// No route matches the path (as opposed to a route whose resource is missing).
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or unknown bearer token",
        )
    }

    /// 422 naming the field (as a JSON path such as `scopes[1]`).
    pub fn validation(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{field}: {reason}"),
        )
        .with_details(serde_json::json!({ "field": field }))
    }

    pub fn unavailable(what: &str) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{what} unavailable, retry later"),
        );
        error.retry_after_s = Some(1);
        error
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The envelope for a bare error status produced outside our handlers.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method_not_allowed",
                "method not allowed on this route",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(status, "payload_too_large", "request body too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "validation_failed",
                "expected Content-Type: application/json",
            ),
            s if s.is_server_error() => Self::new(s, "internal", "internal error"),
            s => Self::new(s, "bad_request", "malformed request"),
        }
    }
}

/// The error and its causes on one line, for logs (never includes secrets: store
/// and driver errors carry SQL states and messages, not bound values).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        // The cause rides along to the request's log line; the response stays generic.
        let cause = chain(&error);
        let mut api_error = match error {
            StoreError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StoreError::Refused(field) => {
                Self::validation(&field, "holds a value the store cannot keep")
            }
            StoreError::Unavailable(_) => Self::unavailable("store"),
            StoreError::Corrupt(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ),
        };
        api_error.cause = Some(cause);
        api_error
    }
}

/// Why a request body could not be read: too slowly (the body read timeout), past a
/// size limit, or otherwise (the client broke off or sent malformed chunking).
pub fn body_refusal(error: &(dyn std::error::Error + 'static)) -> BodyRefusal {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<super::body_deadline::BodyTimeout>() {
            return BodyRefusal::TimedOut;
        }
        if cause.is::<http_body_util::LengthLimitError>() {
            return BodyRefusal::TooLarge;
        }
        source = cause.source();
    }
    BodyRefusal::Unreadable
}

/// The answer to a request body that could not be read: 408, 413 or 400.
pub fn body_error(error: &(dyn std::error::Error + 'static)) -> ApiError {
    body_refusal(error).into()
}

impl From<BodyRefusal> for ApiError {
    fn from(refusal: BodyRefusal) -> Self {
        match refusal {
            BodyRefusal::TimedOut => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive within the body read timeout; send it faster or retry",
            ),
            BodyRefusal::TooLarge => ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            BodyRefusal::Unreadable => ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "request body could not be read",
            ),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::OtherOrg => Self::not_found(),
            Denied::OperatorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "operator_required",
                "this action needs the operator token",
            ),
            Denied::ScopeMissing(scope) => Self::new(
                StatusCode::FORBIDDEN,
                "scope_denied",
                format!("the API key lacks scope {scope}"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

impl ApiError {
    /// The JSON body, once the request id is known.
    pub fn envelope(&self, request_id: &str) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let (Some(details), Some(map)) = (&self.details, error.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        serde_json::json!({ "error": error })
    }
}
