//! The OpenAPI 3.1 document: the routes' own `#[utoipa::path]` descriptions, plus the
//! error answers every route shares, added here from what its extractors can refuse,
//! so no route documents only its 2xx and no handler repeats the same list.

use super::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "hookgate", description = "Webhook ingress and signed delivery gateway"),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorEnvelope, ErrorBody)),
)]
pub struct ApiDoc;

/// Every 4xx and 5xx answer: `{"error":{"code","message","request_id","details"?}}`.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // describes what `ApiError::envelope` writes
pub struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Stable snake_case code: `validation_failed`, `not_found`, `unauthenticated`, …
    code: String,
    /// What went wrong, for a person.
    message: String,
    /// The `x-request-id` of the response, to find its log line.
    request_id: String,
    /// Machine-readable particulars, e.g. `{"field":"limit"}` for `validation_failed`.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Adds the error answers each operation can give, read from its shape, and gives
/// every error answer the envelope's schema.
pub struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let secured_by_default = openapi.security.as_ref().is_some_and(|s| !s.is_empty());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_error_answers(path, operation, secured_by_default);
            }
        }
    }
}

/// The routes that answer without touching the store or the broker.
const STATELESS: [&str; 3] = ["/healthz", "/metrics", "/openapi.json"];

fn add_error_answers(path: &str, operation: &mut Operation, secured_by_default: bool) {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| parameters.iter().any(|p| p.parameter_in == place);
    let (in_path, in_query) = (has(ParameterIn::Path), has(ParameterIn::Query));
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let authenticated = match &operation.security {
        // `security(())` writes one empty requirement: no credentials needed.
        Some(requirements) => requirements
            .iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v != serde_json::json!({}))),
        None => secured_by_default,
    };
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if json_body {
        answers.extend([
            ("400", "validation_failed: the body is not JSON"),
            (
                "408",
                "body_timeout: the body did not arrive within the body read timeout",
            ),
            ("413", "payload_too_large"),
            ("415", "validation_failed: Content-Type is not application/json"),
            (
                "422",
                "validation_failed: a field is missing, unknown or out of range; details.field names it",
            ),
        ]);
    }
    if authenticated {
        answers.extend([
            (
                "401",
                "unauthenticated (no or unknown bearer token) or header_duplicated",
            ),
            (
                "403",
                "scope_denied (the API key lacks the scope) or operator_required",
            ),
        ]);
    }
    if in_path {
        answers.push(("404", "not_found (also for another org's resource)"));
    }
    if in_query {
        answers.push((
            "422",
            "validation_failed: a query parameter is unknown or out of range; details.field names it",
        ));
    }
    if !STATELESS.contains(&path) {
        answers.push((
            "503",
            "unavailable: the store or broker is down; retry after Retry-After",
        ));
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in answers {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| Response::new(description).into());
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            give_envelope(status, response);
        }
    }
}

fn give_envelope(status: &str, response: &mut Response) {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .build();
    let mut builder = ResponseBuilder::new()
        .description(response.description.clone())
        .content("application/json", content);
    if status == "503" {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).build();
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(seconds)
                .description(Some("seconds to wait before retrying"))
                .build(),
        );
    }
    *response = builder.build();
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", security(()), responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    let json = state.inner.openapi_json.get().cloned().unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], json)
}
