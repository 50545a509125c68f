//! Liveness, readiness and metrics.

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
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
        .merge(metrics_routes())
}

/// `/metrics` alone: served here, or on its own listener with `--metrics-listen`.
pub fn metrics_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
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
#[utoipa::path(get, path = "/healthz", tag = "health", security(()), responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn check<E>(probe: impl std::future::Future<Output = Result<(), E>>) -> &'static str {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) | Err(_) => "unreachable",
    }
}

/// Which dependencies the last readiness check found down. An outage is logged when it
/// starts and when it ends, not at every probe: a load balancer probing every second
/// would otherwise bury the one line that matters.
#[derive(Default)]
pub struct Outages {
    store: std::sync::atomic::AtomicBool,
    broker: std::sync::atomic::AtomicBool,
}

impl Outages {
    fn observe(&self, dependency: &'static str, status: &'static str) {
        let flag = match dependency {
            "store" => &self.store,
            _ => &self.broker,
        };
        let down = status != "ok";
        let was_down = flag.swap(down, std::sync::atomic::Ordering::Relaxed);
        match (was_down, down) {
            (false, true) => tracing::error!(dependency, status, "dependency unreachable"),
            (true, false) => tracing::info!(dependency, "dependency reachable again"),
            _ => {}
        }
    }
}

/// The store and the broker are reachable; 503 names the one that is not.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()), responses(
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
    state.outages().observe("store", store);
    state.outages().observe("broker", broker);
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
    // An expected answer while the outage lasts; `Outages` logged its start.
    error.expected = true;
    // Ingress keeps accepting into the outbox while the broker is down; the backlog
    // tells the SRE how much is waiting.
    Err(error.with_details(serde_json::json!({
        "store": store,
        "broker": broker,
        "outbox_backlog": outbox_backlog,
        "outbox_oldest_age_s": outbox_oldest_age_s,
    })))
}

/// Every metric, in the text format the scraper asks for.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()), responses(
    (status = 200, description = "Prometheus text 0.0.4, or OpenMetrics when the Accept header prefers it",
     content((String = "text/plain"), (String = "application/openmetrics-text"))),
    (status = 404, description = "not_found: served on the --metrics-listen address instead"),
))]
async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    on_metrics_listener: Option<Extension<MetricsListener>>,
) -> Result<impl IntoResponse, ApiError> {
    if state.inner.metrics_elsewhere && on_metrics_listener.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are served on the --metrics-listen address",
        ));
    }
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (content_type, text) = state.metrics().render_for(accept);
    Ok(([(CONTENT_TYPE, content_type)], text))
}

/// Marks requests that came in on the `--metrics-listen` listener.
#[derive(Clone, Copy)]
pub struct MetricsListener;

#[cfg(test)]
mod tests {
    use super::Outages;
    use std::sync::{Arc, Mutex};

    /// Log output captured for inspection.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_outage_is_logged_when_it_starts_and_when_it_ends_not_at_every_probe() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let outages = Outages::default();
        tracing::subscriber::with_default(subscriber, || {
            for status in [
                "ok",
                "unreachable",
                "unreachable",
                "unreachable",
                "ok",
                "ok",
            ] {
                outages.observe("store", status);
            }
            outages.observe("broker", "ok");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("ERROR") && lines[0].contains("dependency unreachable"));
        assert!(lines[0].contains("store"));
        assert!(lines[1].contains("INFO") && lines[1].contains("dependency reachable again"));
    }
}
