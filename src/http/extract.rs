//! Extractors whose rejections are our error envelope and name the offending field.

use super::error::ApiError;
use super::AppState;
use crate::auth::Principal;
use crate::crypto::{token_hash, tokens_match};
use crate::store::PageRequest;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Largest JSON body the management API accepts.
const MAX_JSON_BYTES: usize = 256 * 1024;

/// A JSON body: 400 if it is not JSON, 422 naming the field if it does not fit `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|e| super::error::body_error(&e))?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            format!("body is not valid JSON: {e}"),
        )
    })?;
    // Before the shape: the store cannot hold NUL in any text (SPEC §16).
    if let Some(field) = crate::storable::nul_in_json(&value, "") {
        return Err(ApiError::validation(
            &field,
            "must not contain NUL (U+0000)",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." {
            named_field(&inner.to_string()).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        ApiError::validation(&field, inner)
    })
}

/// serde reports missing and unknown fields at the parent's path; the field's name
/// is only in the message (`missing field `name``).
fn named_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next().map(str::to_owned)
}

/// Query parameters, 422 naming the parameter on error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|e| ApiError::validation(&e.path().to_string(), e.into_inner()))
    }
}

/// `?limit=&cursor=` of every list route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", "must be 1 to 200"));
        }
        let before = self
            .cursor
            .as_deref()
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::validation("cursor", "not a cursor from this API"))
            })
            .transpose()?;
        Ok(PageRequest { limit, before })
    }
}

/// Opaque cursor for the client: the last id, base64url-encoded.
pub fn cursor(next: Option<String>) -> Option<String> {
    next.map(|id| URL_SAFE_NO_PAD.encode(id))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut credentials = parts.headers.get_all(AUTHORIZATION).iter();
        let first = credentials.next();
        if credentials.next().is_some() {
            // Which one would count is a guess a proxy in front may make differently.
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "header_duplicated",
                "more than one Authorization header",
            ));
        }
        let token = first
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthenticated)?;
        let principal = principal_for_token(state, token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        if let Some(slot) = parts.extensions.get::<super::context::PrincipalSlot>() {
            slot.set(&principal_label(&principal));
        }
        Ok(principal)
    }
}

/// Who a bearer token stands for: the operator (constant-time compare) or an unrevoked
/// API key. The one resolution the REST API and the console's sign-in share.
pub async fn principal_for_token(
    state: &AppState,
    token: &str,
) -> Result<Option<Principal>, ApiError> {
    if tokens_match(token.as_bytes(), state.operator_token().expose()) {
        return Ok(Some(Principal::Operator));
    }
    if !token.starts_with("hg_") {
        return Ok(None);
    }
    Ok(state
        .store()
        .find_api_key_by_hash(&token_hash(token.as_bytes()))
        .await?
        .filter(|key| key.revoked_at.is_none())
        .map(Principal::ApiKey))
}

/// The access line's principal: `operator` or the key id, never a token.
pub fn principal_label(principal: &Principal) -> String {
    match principal {
        Principal::Operator => "operator".to_owned(),
        Principal::ApiKey(key) => key.id.clone(),
    }
}
