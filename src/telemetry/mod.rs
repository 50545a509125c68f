//! Logs and traces (SPEC §8, §14): the `tracing` subscriber, and — only when an OTLP
//! endpoint is configured — OpenTelemetry trace export over OTLP/HTTP.
//!
//! hookgate's spans are `tracing` spans; `tracing-opentelemetry` turns them into
//! OpenTelemetry spans when export is on. Spans that exist only to be exported
//! (`relay.publish`, `run_event.record`, `ingress.commit`) use [`SPAN_TARGET`], which
//! the log output never shows: with export off nobody wants them, so they are disabled
//! at their call site and cost nothing.
//!
//! Ended spans go through a bounded queue to one export task (`queue.rs`): export
//! never blocks or fails a request, and spans dropped when the queue is full (or lost
//! by a failed export) are counted in `hookgate_otel_spans_dropped_total`.

mod client;
mod json;
mod queue;

pub use queue::{Dropped, QueueConfig};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Target of the spans that exist only for export (never in the logs).
pub const SPAN_TARGET: &str = "hookgate::otel_span";

/// How long one export request may take before its spans count as dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// How log lines are written (`HOOKGATE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where and how much to export (`HOOKGATE_OTLP_ENDPOINT`, `HOOKGATE_OTLP_SAMPLE_RATIO`).
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// The collector's base URL (`http://collector:4318`); spans go to `/v1/traces`.
    pub endpoint: String,
    /// Share of new traces sampled; a sender's sampling decision is followed.
    pub sample_ratio: f64,
}

impl OtlpConfig {
    /// The traces URL under the configured base.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.endpoint.trim_end_matches('/'))
    }
}

/// `HOOKGATE_OTLP_ENDPOINT`: an http(s) URL with a host.
pub fn parse_endpoint(value: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(value.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(value.trim().to_owned())
}

/// `HOOKGATE_OTLP_SAMPLE_RATIO`: a number from 0 to 1.
pub fn parse_ratio(value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|ratio| (0.0..=1.0).contains(ratio))
        .ok_or_else(|| "must be a number from 0 to 1".into())
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a logger is already installed")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// The installed subscriber's export side; [`Telemetry::shutdown`] flushes it.
pub struct Telemetry {
    export: Option<Export>,
    dropped: Dropped,
}

struct Export {
    provider: SdkTracerProvider,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Telemetry {
    /// Installs the global subscriber: logs on stderr in `format` (filtered by
    /// `HOOKGATE_LOG`), plus trace export when `otlp` is set. Export runs on the
    /// current tokio runtime.
    pub fn install(format: LogFormat, otlp: Option<&OtlpConfig>) -> Result<Self, TelemetryError> {
        Self::install_with(format, otlp, QueueConfig::default())
    }

    pub fn install_with(
        format: LogFormat,
        otlp: Option<&OtlpConfig>,
        queue: QueueConfig,
    ) -> Result<Self, TelemetryError> {
        let filter = EnvFilter::try_from_env("HOOKGATE_LOG")
            .unwrap_or_else(|_| EnvFilter::new("info"))
            .add_directive(
                format!("{SPAN_TARGET}=off")
                    .parse()
                    .map_err(|e| TelemetryError::Exporter(format!("{e}")))?,
            );
        let fmt = tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr);
        let exporting = otlp.is_some();
        let fmt = match format {
            LogFormat::Json if exporting => fmt
                .json()
                .flatten_event(true)
                .event_format(json::WithTraceIds(
                    tracing_subscriber::fmt::format().json().flatten_event(true),
                ))
                .with_filter(filter)
                .boxed(),
            LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter).boxed(),
            LogFormat::Text => fmt.with_filter(filter).boxed(),
        };
        let dropped = Dropped::default();
        let Some(otlp) = otlp else {
            tracing_subscriber::registry().with(fmt).try_init()?;
            return Ok(Self {
                export: None,
                dropped,
            });
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(
                client::CollectorClient::new(EXPORT_TIMEOUT)
                    .map_err(|e| TelemetryError::Exporter(e.to_string()))?,
            )
            .with_endpoint(otlp.traces_url())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = Resource::builder()
            .with_service_name("hookgate")
            .with_attribute(KeyValue::new(
                "service.instance.id",
                crate::id::new_id("inst"),
            ))
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let stop = CancellationToken::new();
        let (processor, task) =
            queue::spawn(exporter, &resource, queue, dropped.clone(), stop.clone());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                otlp.sample_ratio,
            ))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("hookgate");
        // Only hookgate's spans, and no events: log lines stay logs.
        let spans = tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.is_span()
                && metadata.target().starts_with("hookgate")
                && *metadata.level() <= tracing::Level::INFO
        });
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_level(false)
            .with_target(false)
            .with_filter(spans);
        tracing_subscriber::registry()
            .with(fmt)
            .with(otel)
            .try_init()?;
        Ok(Self {
            export: Some(Export {
                provider,
                stop,
                task,
            }),
            dropped,
        })
    }

    /// Spans dropped before export, by reason (`hookgate_otel_spans_dropped_total`).
    pub fn dropped(&self) -> Dropped {
        self.dropped.clone()
    }

    /// Exports what is queued, waiting at most `timeout`.
    pub async fn shutdown(self, timeout: Duration) {
        let Some(export) = self.export else { return };
        export.stop.cancel();
        if tokio::time::timeout(timeout, export.task).await.is_err() {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "trace export did not finish in time"
            );
        }
        let _ = export
            .provider
            .shutdown_with_timeout(Duration::from_millis(100));
    }
}

/// The W3C `traceparent` of `span` when it is exported, else `None` (export off, or
/// a disabled span): callers then keep the trace as before.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let span = cx.span();
    let context = span.span_context();
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// The `traceparent` to store with work the current request starts: its exported
/// span's, else (export off) a new span id under `incoming`'s trace (or a new trace).
pub fn current_or_child(incoming: Option<&str>) -> String {
    traceparent(&tracing::Span::current())
        .unwrap_or_else(|| crate::trace::child_traceparent(incoming, rand::random()))
}

/// Makes the trace a `traceparent` header names the parent of `span`, which must not
/// have been entered yet. An invalid header leaves the span a root.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    if let Some(context) = traceparent.and_then(remote_context) {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(context));
    }
}

/// Links `span` to the span a `traceparent` names (a batch to each of its requests).
pub fn add_link(span: &tracing::Span, traceparent: &str) {
    if span.is_disabled() {
        return;
    }
    if let Some(context) = remote_context(traceparent) {
        span.add_link(context);
    }
}

fn remote_context(traceparent: &str) -> Option<SpanContext> {
    struct Header<'a>(&'a str);
    impl Extractor for Header<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            (key == "traceparent").then_some(self.0)
        }
        fn keys(&self) -> Vec<&str> {
            vec!["traceparent"]
        }
    }
    let cx = TraceContextPropagator::new().extract(&Header(traceparent));
    let context = cx.span().span_context().clone();
    context.is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        let cases = [
            ("http://collector:4318", true),
            ("https://otel.example.com/", true),
            (" http://127.0.0.1:4318 ", true),
            ("collector:4318", false),
            ("ftp://collector", false),
            ("http://", false),
            ("http://collector:4318/?token=x", false),
            ("", false),
        ];
        for (value, valid) in cases {
            assert_eq!(parse_endpoint(value).is_ok(), valid, "{value:?}");
        }
    }

    #[test]
    fn sample_ratios_are_numbers_from_zero_to_one() {
        let cases = [
            ("1.0", Some(1.0)),
            ("0", Some(0.0)),
            ("0.25", Some(0.25)),
            ("1.5", None),
            ("-0.1", None),
            ("NaN", None),
            ("half", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_ratio(value).ok(), expected, "{value:?}");
        }
    }

    #[test]
    fn traces_go_to_the_v1_traces_path_under_the_endpoint() {
        for endpoint in ["http://collector:4318", "http://collector:4318/"] {
            let config = OtlpConfig {
                endpoint: endpoint.into(),
                sample_ratio: 1.0,
            };
            assert_eq!(config.traces_url(), "http://collector:4318/v1/traces");
        }
    }

    #[test]
    fn only_valid_traceparents_name_a_remote_parent() {
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let context = remote_context(valid).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(context.is_remote() && context.is_sampled());
        for invalid in [
            "",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(remote_context(invalid).is_none(), "{invalid:?}");
        }
    }
}
