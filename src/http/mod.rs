//! The HTTP surface: REST API, health, metrics and the OpenAPI document. One file per
//! resource; each exposes `routes()` for the router below.

mod admin;
mod api_keys;
mod audit;
mod body_deadline;
mod client_address;
mod console;
mod context;
mod deliveries;
mod endpoints;
pub mod error;
mod events;
mod extract;
/// The edge's parser entry points for the fuzz target in `fuzz/` and its stable corpus
/// replay. Not an API: hidden, and free to change.
#[doc(hidden)]
#[cfg(any(test, fuzzing))]
pub mod fuzz_logic;
mod health;
mod ingress;
mod ingress_events;
mod listener;
mod openapi;
mod orgs;
mod runs;
mod secrets;
mod sources;
mod timeline;
mod timestamp;

pub use listener::{serve, EdgeLimits};
pub use openapi::ApiDoc;

use crate::crypto::{Keyring, Secret};
use crate::dispatch::RunEventWriter;
use crate::ingress::{Ingress, IngressWriter};
use crate::metrics::Metrics;
use crate::queue::Queue;
use crate::store::Store;
use axum::Router;
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    operator_token: Secret,
    keyring: Keyring,
    metrics: Arc<Metrics>,
    public_url: String,
    openapi_json: OnceLock<String>,
    relay_wake: Arc<Notify>,
    delivery_wake: Arc<Notify>,
    ingress: Ingress,
    run_event_writer: RunEventWriter,
    trusted_proxies: Vec<crate::cidr::Cidr>,
    outages: health::Outages,
    metrics_elsewhere: bool,
    run_wakes: crate::runs::RunWakes,
    sign_in_throttle: console::SignInThrottle,
}

/// What the HTTP surface needs from the running process.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub operator_token: Secret,
    pub keyring: Keyring,
    pub metrics: Arc<Metrics>,
    pub public_url: String,
    /// Woken after runs are committed (outbox relay).
    pub relay_wake: Arc<Notify>,
    /// Woken after deliveries become due (delivery workers).
    pub delivery_wake: Arc<Notify>,
    /// Group commit of inbound events.
    pub ingress_writer: IngressWriter,
    /// Group commit of run events.
    pub run_event_writer: RunEventWriter,
    /// Proxies whose `X-Forwarded-For` names the client in the access log.
    pub trusted_proxies: Vec<crate::cidr::Cidr>,
    /// `/metrics` is served by [`metrics_router`] on its own listener, not here.
    pub metrics_elsewhere: bool,
    /// News of run timelines, for live streams.
    pub run_wakes: crate::runs::RunWakes,
    /// Fetches SNS signing certificates for ingress.
    pub certificates: crate::ingress::CertificateFetcher,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        let ingress = Ingress::new(
            Arc::clone(&services.store),
            services.keyring.clone(),
            services.ingress_writer,
            Arc::clone(&services.metrics),
            services.certificates,
        );
        Self {
            inner: Arc::new(Inner {
                ingress,
                store: services.store,
                queue: services.queue,
                operator_token: services.operator_token,
                keyring: services.keyring,
                metrics: services.metrics,
                public_url: services.public_url,
                openapi_json: OnceLock::new(),
                relay_wake: services.relay_wake,
                delivery_wake: services.delivery_wake,
                run_event_writer: services.run_event_writer,
                trusted_proxies: services.trusted_proxies,
                outages: health::Outages::default(),
                metrics_elsewhere: services.metrics_elsewhere,
                run_wakes: services.run_wakes,
                sign_in_throttle: console::SignInThrottle::default(),
            }),
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn queue(&self) -> &dyn Queue {
        self.inner.queue.as_ref()
    }

    pub fn operator_token(&self) -> &Secret {
        &self.inner.operator_token
    }

    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// Tells the outbox relay that runs were just committed.
    pub fn wake_relay(&self) {
        self.inner.relay_wake.notify_one();
    }

    /// The senders' door: source, body, verification, record, counted in one place.
    pub fn ingress(&self) -> &Ingress {
        &self.inner.ingress
    }

    pub fn run_event_writer(&self) -> &RunEventWriter {
        &self.inner.run_event_writer
    }

    /// Tells the delivery workers that deliveries became due.
    pub fn wake_delivery(&self) {
        self.inner.delivery_wake.notify_one();
    }

    pub fn run_wakes(&self) -> &crate::runs::RunWakes {
        &self.inner.run_wakes
    }

    pub fn sign_in_throttle(&self) -> &console::SignInThrottle {
        &self.inner.sign_in_throttle
    }

    pub fn trusted_proxies(&self) -> &[crate::cidr::Cidr] {
        &self.inner.trusted_proxies
    }

    /// Which dependencies are down, so an outage is logged when it starts and ends.
    pub fn outages(&self) -> &health::Outages {
        &self.inner.outages
    }
}

/// Every route, collected together with its OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(orgs::routes())
        .merge(admin::routes())
        .merge(api_keys::routes())
        .merge(audit::routes())
        .merge(sources::routes())
        .merge(ingress::routes())
        .merge(ingress_events::routes())
        .merge(runs::routes())
        .merge(timeline::routes())
        .merge(endpoints::routes())
        .merge(events::routes())
        .merge(deliveries::routes())
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api_router().into_openapi();
    openapi::ErrorAnswers.modify(&mut document);
    document
}

/// `/metrics` alone, for `--metrics-listen`.
pub fn metrics_router(state: AppState) -> Router {
    let (router, _) = health::metrics_routes().split_for_parts();
    router
        .layer(axum::Extension(health::MetricsListener))
        .fallback(|| async { error::ApiError::no_route() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::request_context,
        ))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let (router, mut document) = api_router().split_for_parts();
    openapi::ErrorAnswers.modify(&mut document);
    let json = document.to_json().unwrap_or_else(|_| "{}".to_owned());
    let _ = state.inner.openapi_json.set(json);
    router
        .merge(console::routes())
        .fallback(|| async { error::ApiError::no_route() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::request_context,
        ))
        .with_state(state)
}
