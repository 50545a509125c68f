//! Liveness, readiness and metrics.

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A dependency slower than this counts as down for readiness.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    store: &'static str,
    broker: &'static str,
    /// Runs committed but not yet confirmed by the broker (null if the store is down).
    outbox_backlog: Option<u64>,
    /// Age in seconds of the oldest of them.
    outbox_oldest_age_s: Option<f64>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn check<E>(probe: impl std::future::Future<Output = Result<(), E>>) -> &'static str {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) | Err(_) => "unreachable",
    }
}

/// The store and the broker are reachable; 503 names the one that is not.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "a dependency is unreachable; error.details names it"),
))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let (store, broker, stats) = tokio::join!(
        check(state.store().ping()),
        check(state.queue().ping()),
        tokio::time::timeout(CHECK_TIMEOUT, state.store().outbox_stats()),
    );
    let stats = stats.ok().and_then(Result::ok);
    let outbox_backlog = stats.map(|s| s.backlog);
    let outbox_oldest_age_s = stats.map(|s| {
        s.oldest_enqueued_at.map_or(0.0, |at| {
            (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
        })
    });
    if store == "ok" && broker == "ok" {
        return Ok(Json(Readiness {
            status: "ready",
            store,
            broker,
            outbox_backlog,
            outbox_oldest_age_s,
        }));
    }
    let failing: Vec<&str> = [("store", store), ("broker", broker)]
        .into_iter()
        .filter(|(_, status)| *status != "ok")
        .map(|(name, _)| name)
        .collect();
    let mut error = ApiError::unavailable(&failing.join(" and "));
    error.message = format!("not ready: {} unreachable", failing.join(" and "));
    // Ingress keeps accepting into the outbox while the broker is down; the backlog
    // tells the SRE how much is waiting.
    Err(error.with_details(serde_json::json!({
        "store": store,
        "broker": broker,
        "outbox_backlog": outbox_backlog,
        "outbox_oldest_age_s": outbox_oldest_age_s,
    })))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().render(),
    )
}
