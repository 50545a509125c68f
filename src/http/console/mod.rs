//! The operator console (SPEC §13) at `/console`: server-rendered HTML from templates
//! compiled into the binary (askama, `templates/console/`), one small script and one
//! stylesheet embedded from `assets/console/`. No CDN, no JS build, nothing read from
//! disk at run time. Pages reach data through the same store operations and the same
//! `Principal` scope checks as the REST API.

mod admin;
mod endpoints;
mod events;
mod overview;
mod pages;
mod runs;
mod secrets;
pub(super) mod session;
mod throttle;

pub use throttle::SignInThrottle;

use super::error::ApiError;
use super::AppState;
use crate::auth::Denied;
use crate::store::StoreError;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Scripts and styles from the console's own origin only, no inline script, no
/// framing, forms post only back to the console.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

const SCRIPT: &str = include_str!("../../../assets/console/console.js");
const STYLESHEET: &str = include_str!("../../../assets/console/console.css");
/// Linked from every page, so a browser never asks for `/favicon.ico` (a 404).
const ICON: &str = include_str!("../../../assets/console/favicon.svg");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::overview))
        .route(
            "/console/sign-in",
            get(pages::sign_in_form).post(pages::sign_in),
        )
        .route("/console/sign-out", axum::routing::post(pages::sign_out))
        .route("/console/orgs/{org}", get(pages::org))
        .route("/console/orgs/{org}/sources/{id}", get(pages::source))
        .route(
            "/console/orgs/{org}/sources/{id}/secrets/rotate",
            axum::routing::post(secrets::rotate),
        )
        .route(
            "/console/orgs/{org}/sources/{id}/secrets/{secret_id}/expire",
            axum::routing::post(secrets::expire),
        )
        .route("/console/events/{id}", get(events::event))
        .route(
            "/console/events/{id}/replay",
            axum::routing::post(events::replay_event),
        )
        .route("/console/search", get(events::search))
        .route("/console/orgs/{org}/runs", get(runs::list))
        .route("/console/orgs/{org}/audit", get(admin::audit))
        .route("/console/orgs/{org}/endpoints", get(endpoints::list))
        .route("/console/endpoints/{id}", get(endpoints::show))
        .route(
            "/console/endpoints/{id}/test",
            axum::routing::post(endpoints::send_test),
        )
        .route(
            "/console/endpoints/{id}/enabled",
            axum::routing::post(endpoints::set_enabled),
        )
        .route(
            "/console/endpoints/{id}/recover",
            axum::routing::post(endpoints::recover),
        )
        .route(
            "/console/endpoints/{id}/secrets/rotate",
            axum::routing::post(endpoints::rotate_secret),
        )
        .route("/console/deliveries/{id}", get(endpoints::delivery))
        .route(
            "/console/deliveries/{id}/retry",
            axum::routing::post(endpoints::retry_delivery),
        )
        .route(
            "/console/orgs/{org}/api-keys",
            get(admin::keys).post(admin::mint_key),
        )
        .route(
            "/console/api-keys/{id}/revoke",
            axum::routing::post(admin::revoke_key),
        )
        .route("/console/runs/{id}", get(runs::show))
        .route("/console/runs/{id}/events", get(runs::stream))
        .route(
            "/console/runs/{id}/cancel",
            axum::routing::post(runs::cancel_run),
        )
        .route(
            "/console/runs/{id}/retry",
            axum::routing::post(runs::retry_run),
        )
        .route("/console/assets/console.js", get(script))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/favicon.svg", get(icon))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

async fn icon() -> impl IntoResponse {
    ([(CONTENT_TYPE, "image/svg+xml")], ICON)
}

async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET)
}

/// The headers of SPEC §13 on every console answer, pages and assets alike.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Console URLs name ids: no other site learns them. (Not `no-referrer`: under it
    // a browser sends `Origin: null` even on the console's own form posts.)
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages show secrets once and per-user data: never from a cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Sends the browser on to `location` after a form did its work (POST → 303 → GET).
fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// Why a console page cannot be shown. Rendered as HTML (the REST API's JSON envelope
/// is for programs), except `SignInFirst`, which sends the browser to the sign-in page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("sign in first")]
    SignInFirst,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("the store is unavailable")]
    Store(#[from] StoreError),
    #[error("{}", .0.message)]
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        ConsoleError::Api(error)
    }
}

impl From<Denied> for ConsoleError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::OtherOrg => ConsoleError::NotFound,
            Denied::OperatorRequired => ConsoleError::Forbidden("this needs the operator token"),
            Denied::ScopeMissing(_) => ConsoleError::Forbidden("your API key lacks the scope"),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::SignInFirst => {
                return (
                    StatusCode::SEE_OTHER,
                    [(LOCATION, HeaderValue::from_static("/console/sign-in"))],
                )
                    .into_response();
            }
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Api(error) => error.status,
        };
        let message = match &self {
            // The cause stays in the log (the access line), not on the page.
            ConsoleError::Store(_) => "The store is unavailable; try again shortly.".to_owned(),
            other => other.to_string(),
        };
        let mut response = (status, Html(pages::error_page(status, &message))).into_response();
        // The access line reads its code and cause from here, as for the REST API.
        let logged = match self {
            ConsoleError::Store(error) => ApiError::from(error),
            ConsoleError::Api(error) => error,
            _ => ApiError::for_status(status),
        };
        response.extensions_mut().insert(logged);
        response
    }
}
