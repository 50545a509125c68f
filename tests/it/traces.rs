//! Trace export (SPEC §14) as a real OTLP/HTTP collector sees it: one trace from the
//! sender through hookgate, the RabbitMQ message and the scheduler's run event to the
//! product backend; JSON logs naming the trace; nothing exported without an endpoint.

use crate::hooks::amqp::{await_consumer_queue, publish_traced_run_event};
use crate::hooks::{endpoint, ALLOW_LOOPBACK};
use crate::ingress::{now, signed};
use crate::support::consumer::RunsConsumer;
use crate::support::process::{ServerProcess, BIN};
use crate::support::receiver::TestReceiver;
use crate::support::server::{MASTER_KEY, OPERATOR_TOKEN};
use crate::support::{amqp_prefix, postgres_url, TestServer, AMQP_URL};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SENDER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SENDER_SPAN: &str = "b7ad6b7169203331";

/// What the collector received: every span with its resource's attributes.
#[derive(Default)]
struct Collected {
    requests: usize,
    spans: Vec<(Vec<KeyValue>, Span)>,
}

/// A minimal OTLP/HTTP collector: `POST /v1/traces` with protobuf bodies.
#[derive(Clone)]
struct OtlpCollector {
    url: String,
    collected: Arc<Mutex<Collected>>,
}

async fn collect(State(collector): State<OtlpCollector>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut collected = collector.collected.lock().unwrap();
    collected.requests += 1;
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default().attributes;
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                collected.spans.push((resource.clone(), span));
            }
        }
    }
    StatusCode::OK
}

impl OtlpCollector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let collector = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            collected: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(collect))
            .with_state(collector.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        collector
    }

    fn requests(&self) -> usize {
        self.collected.lock().unwrap().requests
    }

    /// Waits until a span of each name has arrived; returns them all.
    async fn wait_for(&self, names: &[&str], within: Duration) -> Vec<(Vec<KeyValue>, Span)> {
        let deadline = Instant::now() + within;
        loop {
            let spans = self.collected.lock().unwrap().spans.clone();
            if names
                .iter()
                .all(|n| spans.iter().any(|(_, s)| s.name == *n))
            {
                return spans;
            }
            let seen: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
            assert!(
                Instant::now() < deadline,
                "spans {names:?} not all exported; got {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.clone()?;
    Some(match value.value? {
        AnyValue::StringValue(s) => s,
        AnyValue::IntValue(i) => i.to_string(),
        AnyValue::BoolValue(b) => b.to_string(),
        AnyValue::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    })
}

fn named<'a>(spans: &'a [(Vec<KeyValue>, Span)], name: &str) -> &'a Span {
    &spans.iter().find(|(_, s)| s.name == name).unwrap().1
}

fn traceparent(span: &Span) -> String {
    format!(
        "00-{}-{}-01",
        hex::encode(&span.trace_id),
        hex::encode(&span.span_id)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_sender_through_rabbitmq_to_the_backend() {
    let collector = OtlpCollector::start().await;
    let backend = TestReceiver::start().await;
    let (database, prefix) = (postgres_url().await, amqp_prefix());
    let dir = tempfile::tempdir().unwrap();
    let process = ServerProcess::start(
        dir.path(),
        &[
            format!("--database-url={database}"),
            format!("--amqp-url={AMQP_URL}"),
            format!("--amqp-exchange-prefix={prefix}"),
            "--amqp-queue-type=classic".to_owned(),
            format!("--operator-token={OPERATOR_TOKEN}"),
            format!("--master-key={MASTER_KEY}"),
            ALLOW_LOOPBACK.to_owned(),
            format!("--otlp-endpoint={}", collector.url),
        ],
    );
    let server = TestServer::external(&process.url, Some(prefix.clone()));
    let mut scheduler = RunsConsumer::bind(&prefix).await;
    let (source_id, secret) = crate::runs::github_source(&server).await;
    let (endpoint_id, _) = endpoint(
        &server,
        &backend.url,
        json!({"event_types": ["run.completed"]}),
    )
    .await;

    // The sender's request, in the sender's trace.
    let body = br#"{"ref":"refs/heads/main"}"#;
    let mut headers = signed(&json!({"type": "github"}), &secret, body, now(), "d-1");
    headers.push((
        "traceparent".into(),
        format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01"),
    ));
    let receipt = server.send_webhook(&source_id, &headers, body).await;
    assert_eq!(receipt.status, StatusCode::ACCEPTED, "{}", receipt.body);
    let run_id = receipt.body["run_id"].as_str().unwrap().to_owned();

    // The scheduler gets the run and answers with a run event in the message's trace.
    let message = scheduler.next(Duration::from_secs(10)).await.unwrap();
    let message_trace = message.headers["traceparent"].clone();
    await_consumer_queue(&prefix).await;
    let event = json!({"event_id": "sched-trace-1", "type": "run.completed", "run_id": run_id,
        "org": "acme", "workflow_id": "wf_deploy", "data": {"result": "ok"}});
    publish_traced_run_event(&prefix, "run.completed", event, &message_trace).await;
    let delivered = backend.wait_for(1, Duration::from_secs(10)).await;
    let backend_trace = delivered[0].header("traceparent").unwrap().to_owned();

    let names = [
        "ingress.receive",
        "ingress.commit",
        "relay.publish",
        "run_event.record",
        "delivery.attempt",
    ];
    let spans = collector.wait_for(&names, Duration::from_secs(15)).await;
    let receive = named(&spans, "ingress.receive");
    let publish = named(&spans, "relay.publish");
    let record = named(&spans, "run_event.record");
    let attempt = named(&spans, "delivery.attempt");
    for span in [receive, publish, record, attempt] {
        assert_eq!(hex::encode(&span.trace_id), SENDER_TRACE, "{}", span.name);
    }
    // sender → ingress.receive → relay.publish → (message) → run_event.record → delivery.attempt
    assert_eq!(hex::encode(&receive.parent_span_id), SENDER_SPAN);
    assert_eq!(publish.parent_span_id, receive.span_id);
    assert_eq!(record.parent_span_id, publish.span_id);
    assert_eq!(attempt.parent_span_id, record.span_id);
    assert_eq!(
        message_trace,
        traceparent(publish),
        "the message carries the span that sent it"
    );
    assert_eq!(
        backend_trace,
        traceparent(attempt),
        "the backend gets the attempt's span"
    );

    let at = &receive.attributes;
    assert_eq!(
        attribute(at, "source.id").as_deref(),
        Some(source_id.as_str())
    );
    assert_eq!(attribute(at, "verifier").as_deref(), Some("github"));
    assert_eq!(attribute(at, "outcome").as_deref(), Some("accepted"));
    assert_eq!(
        attribute(at, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(at, "http.response.status_code").as_deref(),
        Some("202")
    );
    assert!(attribute(at, "server.address").is_some());
    let at = &publish.attributes;
    assert_eq!(attribute(at, "run.id").as_deref(), Some(run_id.as_str()));
    assert_eq!(
        attribute(at, "messaging.system").as_deref(),
        Some("rabbitmq")
    );
    assert_eq!(
        attribute(at, "messaging.destination.name"),
        Some(format!("{prefix}.runs"))
    );
    let at = &attempt.attributes;
    assert!(attribute(at, "delivery.id").is_some_and(|id| id.starts_with("dlv_")));
    assert_eq!(attribute(at, "endpoint.id"), Some(endpoint_id));
    assert_eq!(attribute(at, "attempt").as_deref(), Some("1"));
    assert_eq!(attribute(at, "status").as_deref(), Some("delivered"));
    assert_eq!(
        attribute(at, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute(&record.attributes, "event.id").as_deref(),
        Some("sched-trace-1")
    );
    // The commit is its own span, linked to the request whose event it holds.
    let commit = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| {
            s.name == "ingress.commit" && s.links.iter().any(|l| l.span_id == receive.span_id)
        })
        .expect("a commit linked to the request");
    assert_eq!(
        attribute(&commit.attributes, "batch.size").as_deref(),
        Some("1")
    );
    let resource = &spans[0].0;
    assert_eq!(
        attribute(resource, "service.name").as_deref(),
        Some("hookgate")
    );
    assert!(attribute(resource, "service.instance.id").is_some());

    assert!(process.terminate().success());
}

/// `hookgate serve` in embedded mode with JSON logs; returns the child, its URL and
/// the file its stderr goes to.
fn start_embedded(
    dir: &std::path::Path,
    args: &[String],
    env: &[(&str, &str)],
) -> (std::process::Child, String, std::path::PathBuf) {
    let log_path = dir.join("stderr.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(format!("--data-dir={}", dir.join("data").display()))
        .arg(format!("--operator-token={OPERATOR_TOKEN}"))
        .args(args)
        .env("HOOKGATE_LOG_FORMAT", "json")
        .env_remove("HOOKGATE_LOG")
        .env_remove("HOOKGATE_DATABASE_URL")
        .env_remove("HOOKGATE_AMQP_URL")
        .env_remove("HOOKGATE_OTLP_ENDPOINT")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let banner: Value = serde_json::from_str(&first).unwrap();
    let url = banner["url"].as_str().unwrap().to_owned();
    std::thread::spawn(move || for _ in stdout.lines() {});
    (child, url, log_path)
}

/// SIGTERM, then waits up to 5 s for a clean exit.
fn terminate(mut child: std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("hookgate did not exit within 5 s of SIGTERM");
}

/// Creates `acme` with the sender's trace; returns its request id.
async fn create_org(url: &str) -> String {
    let created = reqwest::Client::new()
        .post(format!("{url}/v1/orgs"))
        .bearer_auth(OPERATOR_TOKEN)
        .header("traceparent", format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01"))
        .json(&json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_exported_trace_and_span() {
    let collector = OtlpCollector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("--otlp-endpoint={}", collector.url);
    let (child, url, log_path) = start_embedded(dir.path(), &[endpoint], &[]);
    let request_id = create_org(&url).await;
    // Exported on the graceful shutdown at the latest.
    terminate(child);
    let spans = collector.wait_for(&["http"], Duration::from_secs(5)).await;
    let request = named(&spans, "http");
    assert_eq!(hex::encode(&request.trace_id), SENDER_TRACE);
    assert_eq!(hex::encode(&request.parent_span_id), SENDER_SPAN);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let access: Value = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|l| l["message"] == "request" && l["request.id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access line:\n{logs}"));
    assert_eq!(access["trace_id"], SENDER_TRACE, "{access}");
    assert_eq!(access["span_id"], hex::encode(&request.span_id), "{access}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported_and_logs_name_no_trace() {
    let collector = OtlpCollector::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The SDK's own variable is not hookgate's switch.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str())];
    let (child, url, log_path) = start_embedded(dir.path(), &[], &env);
    create_org(&url).await;
    terminate(child);
    assert_eq!(collector.requests(), 0, "nothing reached the collector");
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("\"message\":\"request\""), "{logs}");
    assert!(!logs.contains("trace_id"), "{logs}");
}
