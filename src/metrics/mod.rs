//! Prometheus metrics, owned by the app (no global registry) and rendered at /metrics
//! in the format the scraper asks for (`exposition`), with the process metrics.

pub mod exposition;
mod process;

use crate::activity::Activity;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRequestLabels {
    pub route: String,
    /// From a closed set (`other` for the rest): no client can add series.
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngressLabels {
    pub verifier: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerifierLabels {
    pub verifier: &'static str,
}

/// A master key id: one of the configured keys, or `unknown` (a closed set).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyIdLabels {
    pub key_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s: ingress answers in milliseconds, slow store calls in seconds.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every value a labelled counter family can take. Each series is created at 0 when
/// the registry is, so `rate()` and `increase()` are defined before the first event:
/// an alert on `increase(…[5m]) > 0` sees the first endpoint ever disabled.
pub mod labels {
    /// `hookgate_ingress_requests_total{outcome}` (`Receipt::outcome`, `Refusal::outcome`).
    pub const INGRESS_OUTCOMES: &[&str] = &[
        "accepted",
        "duplicate",
        "ignored",
        "handshake",
        "not_found",
        "too_large",
        "unreadable",
        "misconfigured",
        "rejected",
        "unavailable",
        "overloaded",
        "unstorable",
        "certificate_unavailable",
    ];
    /// `verifier` of a request whose source is unknown.
    pub const UNKNOWN_VERIFIER: &str = "unknown";
    /// `hookgate_deliveries_total{outcome}`.
    pub const DELIVERY_OUTCOMES: &[&str] = &["delivered", "retrying", "failed", "gone"];
    /// `hookgate_endpoints_disabled_total{reason}`.
    pub const DISABLED_REASONS: &[&str] = &["gone", "failing"];
    /// `hookgate_relay_failures_total{reason}`.
    pub const RELAY_FAILURES: &[&str] = &["unreachable", "nacked", "unroutable"];
    /// `hookgate_connections_timed_out_total{reason}`.
    pub const CONNECTION_TIMEOUTS: &[&str] = &["header_read", "keep_alive"];
    /// `hookgate_sns_certificate_fetches_total{outcome}`: fetched and read, the host
    /// refused it or sent no certificate (`invalid`), or it could not be had (`failed`).
    pub const CERTIFICATE_FETCHES: &[&str] = &["fetched", "invalid", "failed"];
    /// `hookgate_sns_confirmations_total{outcome}`: a `SubscribeURL` called with a 2xx
    /// answer, called without one, or not called (not on an allowed origin).
    pub const CONFIRMATIONS: &[&str] = &["confirmed", "failed", "refused"];
    /// `hookgate_otel_spans_dropped_total{reason}`.
    pub const SPANS_DROPPED: &[&str] = &["queue_full", "export_failed"];
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpRequestLabels, Counter>,
    pub http_request_duration: HistogramFamily<RouteLabels>,
    pub ingress_requests: Family<IngressLabels, Counter>,
    pub ingress_duration: HistogramFamily<VerifierLabels>,
    pub outbox_backlog: Gauge,
    /// Enabled sources with `quiet_after_s` that received nothing for that long.
    pub sources_quiet: Gauge,
    /// Secrets sealed under each master key id (SPEC §15).
    pub sealed_secrets: Family<KeyIdLabels, Gauge>,
    pub outbox_oldest_age: Gauge<f64, AtomicU64>,
    pub relay_published: Counter,
    pub relay_failures: Family<ReasonLabels, Counter>,
    pub publish_lag: Histogram,
    pub deliveries: Family<OutcomeLabels, Counter>,
    pub delivery_duration: Histogram,
    pub endpoints_disabled: Family<ReasonLabels, Counter>,
    pub circuits: Family<StateLabels, Gauge>,
    pub connections_open: Gauge,
    pub connections_refused: Counter,
    pub connections_timed_out: Family<ReasonLabels, Counter>,
    /// SNS signing certificates fetched by ingress, by outcome.
    pub certificate_fetches: Family<OutcomeLabels, Counter>,
    /// SNS subscriptions confirmed by ingress (`auto_confirm`), by outcome.
    pub confirmations: Family<OutcomeLabels, Counter>,
    /// The same outcomes per source and endpoint, for the console (not exported here).
    pub activity: Arc<Activity>,
}

/// Counts a connection as open until dropped.
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_spans_dropped(Family::default())
    }

    /// With the trace exporter's count of dropped spans (`telemetry::Dropped`), which
    /// exists before the app does.
    pub fn with_spans_dropped(spans_dropped: Family<ReasonLabels, Counter>) -> Self {
        let mut registry = Registry::with_prefix("hookgate");
        let http_requests = Family::<HttpRequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        let http_request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and method",
            http_request_duration.clone(),
        );
        let ingress_requests = Family::<IngressLabels, Counter>::default();
        registry.register(
            "ingress_requests",
            "Inbound webhooks by verifier type and outcome",
            ingress_requests.clone(),
        );
        let ingress_duration: HistogramFamily<VerifierLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "ingress_duration_seconds",
            "Inbound webhook latency (receive to durable answer) by verifier type",
            ingress_duration.clone(),
        );
        let sources_quiet = Gauge::default();
        registry.register(
            "sources_quiet",
            "Sources that received no event for their quiet_after_s",
            sources_quiet.clone(),
        );
        let sealed_secrets = Family::<KeyIdLabels, Gauge>::default();
        registry.register(
            "secrets_sealed",
            "Source and endpoint secrets sealed under each master key id (configured ids, \
             and unknown for any other)",
            sealed_secrets.clone(),
        );
        let outbox_backlog = Gauge::default();
        registry.register(
            "outbox_backlog",
            "Runs committed but not yet confirmed by the broker",
            outbox_backlog.clone(),
        );
        let outbox_oldest_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest run waiting to be published (0 when none)",
            outbox_oldest_age.clone(),
        );
        let relay_published = Counter::default();
        registry.register(
            "relay_published",
            "Runs published and confirmed by the broker",
            relay_published.clone(),
        );
        let relay_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "relay_failures",
            "Runs whose publish was not confirmed, by reason (they are retried)",
            relay_failures.clone(),
        );
        let publish_lag = latency_histogram();
        registry.register(
            "relay_publish_lag_seconds",
            "From commit to broker confirm",
            publish_lag.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by outcome (delivered, retrying, failed, gone)",
            deliveries.clone(),
        );
        let delivery_duration = latency_histogram();
        registry.register(
            "delivery_duration_seconds",
            "Duration of delivery attempts",
            delivery_duration.clone(),
        );
        let endpoints_disabled = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "endpoints_disabled",
            "Endpoints disabled by hookgate, by reason (gone, failing)",
            endpoints_disabled.clone(),
        );
        let circuits = Family::<StateLabels, Gauge>::default();
        registry.register(
            "endpoint_circuits",
            "Endpoints seen by this instance, by circuit-breaker state",
            circuits.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "http_connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "http_connections_refused",
            "Connections answered 503 and closed because --max-connections were open",
            connections_refused.clone(),
        );
        let connections_timed_out = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "http_connections_timed_out",
            "Connections closed by a timeout, by which (header_read, keep_alive)",
            connections_timed_out.clone(),
        );
        let certificate_fetches = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sns_certificate_fetches",
            "SNS signing certificates fetched, by outcome (fetched, invalid, failed)",
            certificate_fetches.clone(),
        );
        let confirmations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sns_confirmations",
            "SNS subscriptions confirmed by calling their SubscribeURL, by outcome (confirmed, failed, refused)",
            confirmations.clone(),
        );
        let build = prometheus_client::metrics::info::Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION")),
            (
                "commit",
                option_env!("HOOKGATE_COMMIT").unwrap_or("unknown"),
            ),
        ]);
        registry.register("build", "The version and commit of this binary", build);
        // Each `get_or_create` below is for its side effect: the series exists at 0.
        let verifiers = crate::verify::VerifierKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .chain([labels::UNKNOWN_VERIFIER]);
        for verifier in verifiers {
            for outcome in labels::INGRESS_OUTCOMES {
                let _ = ingress_requests.get_or_create(&IngressLabels { verifier, outcome });
            }
        }
        for outcome in labels::DELIVERY_OUTCOMES {
            let _ = deliveries.get_or_create(&OutcomeLabels { outcome });
        }
        for reason in labels::DISABLED_REASONS {
            let _ = endpoints_disabled.get_or_create(&ReasonLabels { reason });
        }
        for reason in labels::RELAY_FAILURES {
            let _ = relay_failures.get_or_create(&ReasonLabels { reason });
        }
        for reason in labels::CONNECTION_TIMEOUTS {
            let _ = connections_timed_out.get_or_create(&ReasonLabels { reason });
        }
        for outcome in labels::CERTIFICATE_FETCHES {
            let _ = certificate_fetches.get_or_create(&OutcomeLabels { outcome });
        }
        for outcome in labels::CONFIRMATIONS {
            let _ = confirmations.get_or_create(&OutcomeLabels { outcome });
        }
        for reason in labels::SPANS_DROPPED {
            let _ = spans_dropped.get_or_create(&ReasonLabels { reason });
        }
        registry.register(
            "otel_spans_dropped",
            "Trace spans never exported, by reason (queue_full, export_failed)",
            spans_dropped,
        );
        Self {
            activity: Arc::default(),
            connections_open,
            connections_refused,
            connections_timed_out,
            certificate_fetches,
            confirmations,
            circuits,
            deliveries,
            delivery_duration,
            endpoints_disabled,
            registry,
            http_requests,
            http_request_duration,
            ingress_requests,
            ingress_duration,
            outbox_backlog,
            sources_quiet,
            sealed_secrets,
            outbox_oldest_age,
            relay_published,
            relay_failures,
            publish_lag,
        }
    }

    pub fn ingress_outcome(&self, verifier: &'static str, outcome: &'static str, seconds: f64) {
        self.ingress_requests
            .get_or_create(&IngressLabels { verifier, outcome })
            .inc();
        self.ingress_duration
            .get_or_create(&VerifierLabels { verifier })
            .observe(seconds);
    }

    /// Sets `hookgate_secrets_sealed` to these counts by key id.
    pub fn secrets_sealed(&self, counts: &[(String, u64)]) {
        for (key_id, secrets) in counts {
            self.sealed_secrets
                .get_or_create(&KeyIdLabels {
                    key_id: key_id.clone(),
                })
                .set(i64::try_from(*secrets).unwrap_or(i64::MAX));
        }
    }

    pub fn connection_opened(&self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    pub fn connection_timed_out(&self, reason: &'static str) {
        self.connections_timed_out
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn relay_published(&self, lag_seconds: f64) {
        self.relay_published.inc();
        self.publish_lag.observe(lag_seconds);
    }

    pub fn delivery_attempt(&self, outcome: &'static str, seconds: f64) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.delivery_duration.observe(seconds);
    }

    pub fn circuits(&self, state: &'static str, count: i64) {
        self.circuits
            .get_or_create(&StateLabels { state })
            .set(count);
    }

    pub fn endpoint_disabled(&self, reason: &'static str) {
        self.endpoints_disabled
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn certificate_fetched(&self, outcome: &'static str) {
        self.certificate_fetches
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn confirmation(&self, outcome: &'static str) {
        self.confirmations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn relay_failed(&self, reason: &'static str) {
        self.relay_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn outbox(&self, stats: crate::store::OutboxStats, now: chrono::DateTime<chrono::Utc>) {
        self.outbox_backlog
            .set(i64::try_from(stats.backlog).unwrap_or(i64::MAX));
        let age = stats.oldest_enqueued_at.map_or(0.0, |at| {
            (now - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.outbox_oldest_age.set(age);
    }

    /// Every metric and the process metrics, as OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        let process = process::render();
        match out.strip_suffix("# EOF\n") {
            Some(families) => format!("{families}{process}# EOF\n"),
            None => out + &process,
        }
    }

    /// Every metric in the format the scraper's `Accept` header asks for; returns the
    /// content type with the text.
    pub fn render_for(&self, accept: Option<&str>) -> (&'static str, String) {
        let openmetrics = self.render();
        if exposition::wants_openmetrics(accept) {
            (exposition::OPENMETRICS, openmetrics)
        } else {
            (
                exposition::PROMETHEUS_TEXT,
                exposition::to_prometheus_text(&openmetrics),
            )
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
