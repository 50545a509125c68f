//! Prometheus metrics, owned by the app (no global registry) and rendered at /metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
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

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s: ingress answers in milliseconds, slow store calls in seconds.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpRequestLabels, Counter>,
    pub http_request_duration: HistogramFamily<RouteLabels>,
    pub ingress_requests: Family<IngressLabels, Counter>,
    pub ingress_duration: HistogramFamily<VerifierLabels>,
}

impl Metrics {
    pub fn new() -> Self {
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
        Self {
            registry,
            http_requests,
            http_request_duration,
            ingress_requests,
            ingress_duration,
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

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
