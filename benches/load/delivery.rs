//! `delivery`: M run events published over `POST /v1/orgs/{org}/events` fan out to K
//! endpoints on a local receiver, which verifies every Standard Webhooks signature with
//! hookgate's own verifier and measures publish → receipt latency from a timestamp the
//! event carries in its `data`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use futures_util::stream::{self, StreamExt};
use hookgate::verify::{SecretCandidate, VerifierConfig};
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::histogram::Histogram;
use crate::report::{self, line, section};
use crate::sampler::Sampler;
use crate::stack::{self, Options, Stack, ORG, WORKFLOW};
use crate::{driver, procfs};

pub struct Args {
    pub events: u64,
    pub endpoints: usize,
    pub publishers: usize,
    /// Give up when no delivery arrived for this long.
    pub idle: Duration,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Default)]
struct Received {
    /// (endpoint index, webhook-id) of every verified delivery.
    seen: HashSet<(usize, String)>,
    duplicates: u64,
    invalid: u64,
    latency: Histogram,
    last: Option<Instant>,
}

struct Receiver {
    /// The `whsec_` secret of endpoint k, for path `/hooks/{k}`.
    secrets: Vec<String>,
    received: Mutex<Received>,
    arrived: Notify,
}

impl Receiver {
    fn delivered(&self) -> usize {
        self.received.lock().map(|r| r.seen.len()).unwrap_or(0)
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    Path(k): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let Some(secret) = receiver.secrets.get(k) else {
        return StatusCode::NOT_FOUND;
    };
    let candidates = [SecretCandidate {
        id: "endpoint",
        value: secret.as_bytes(),
        // Plainly keyed on purpose: the receiver stands for an ordinary verifier library.
        prepared: None,
    }];
    let now = chrono::Utc::now().timestamp();
    let verified = hookgate::verify::verify(
        &VerifierConfig::StandardWebhooks,
        &candidates,
        &headers,
        &body,
        "",
        now,
    );
    let sent_at = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"]["sent_at_us"].as_u64());
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = {
        let Ok(mut received) = receiver.received.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        if verified.is_err() {
            received.invalid += 1;
            StatusCode::UNAUTHORIZED
        } else {
            if received.seen.insert((k, id)) {
                if let Some(sent_at) = sent_at {
                    received.latency.record_us(now_us().saturating_sub(sent_at));
                }
                received.last = Some(at);
            } else {
                received.duplicates += 1;
            }
            StatusCode::OK
        }
    };
    receiver.arrived.notify_waiters();
    status
}

pub async fn run(options: &Options, args: &Args) -> anyhow::Result<()> {
    let mut stack = Stack::start(options).await?;
    let result = measure(&mut stack, args).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &mut Stack, args: &Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_addr = listener.local_addr()?;
    let mut secrets = Vec::with_capacity(args.endpoints);
    for k in 0..args.endpoints {
        let (_, secret) = stack
            .endpoint(&format!("http://{receiver_addr}/hooks/{k}"))
            .await?;
        secrets.push(secret);
    }
    let receiver = Arc::new(Receiver {
        secrets,
        received: Mutex::default(),
        arrived: Notify::new(),
    });
    let app = axum::Router::new()
        .route("/hooks/{k}", axum::routing::post(receive))
        .with_state(receiver.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    section(format!(
        "delivery → local receiver ({} mode, pid {})",
        stack.mode_name(),
        stack.pid
    ));
    line("events", args.events);
    line("endpoints", args.endpoints);
    line("publishers (concurrent POST /events)", args.publishers);
    let expected = args.events * args.endpoints as u64;
    line("deliveries expected", expected);

    let ticks = procfs::clock_ticks();
    let progress = Arc::new(driver::Progress::default());
    let sampler = Sampler::start(stack.pid, Duration::from_secs(1), false, progress, None);
    let pg_before = stack::pg_stats(stack).await?;
    let cpu_before = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let start = Instant::now();
    let (publish_latency, publish_statuses) = publish_all(stack, args).await;
    let published_in = start.elapsed();
    let delivered_while_publishing = receiver.delivered() as u64;
    let accepted = publish_statuses.get(&202).copied().unwrap_or(0);
    let expected = accepted * args.endpoints as u64;

    // Wait for every delivery, or until none arrived for `idle`.
    let mut last_count = 0;
    let mut last_change = Instant::now();
    loop {
        let notified = receiver.arrived.notified();
        let count = receiver.delivered() as u64;
        if count >= expected {
            break;
        }
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        } else if last_change.elapsed() > args.idle {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
    }
    let cpu_after = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let samples = sampler.finish().await;
    let (delivered, duplicates, invalid, latency, last) = {
        let r = receiver
            .received
            .lock()
            .map_err(|_| anyhow::anyhow!("receiver state poisoned"))?;
        (
            r.seen.len() as u64,
            r.duplicates,
            r.invalid,
            r.latency.clone(),
            r.last,
        )
    };
    let end = last.unwrap_or_else(Instant::now);
    let elapsed = end.saturating_duration_since(start);

    line(
        "events published",
        format!(
            "{accepted} in {:.1} s ({:.0} /s)",
            published_in.as_secs_f64(),
            accepted as f64 / published_in.as_secs_f64().max(1e-9)
        ),
    );
    for (status, n) in &publish_statuses {
        line(&format!("publish status {status}"), n);
    }
    report::latency("publish latency", &publish_latency);
    line("deliveries received (distinct, verified)", delivered);
    line("deliveries missing", expected.saturating_sub(delivered));
    line("duplicate deliveries", duplicates);
    line("invalid signatures", invalid);
    line(
        "delivery throughput (first publish → last receipt)",
        format!(
            "{:.0} deliveries/s over {:.1} s",
            delivered as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed.as_secs_f64()
        ),
    );
    // Publishing (one transaction per event) can be slower than delivering; the rate
    // once it is over is what the delivery workers alone achieve on the backlog.
    let draining = elapsed.saturating_sub(published_in);
    line(
        "delivery throughput after publishing ended (backlog drain)",
        format!(
            "{:.0} deliveries/s over {:.1} s ({} delivered while publishing)",
            delivered.saturating_sub(delivered_while_publishing) as f64
                / draining.as_secs_f64().max(1e-9),
            draining.as_secs_f64(),
            delivered_while_publishing
        ),
    );
    report::latency("publish → receipt latency", &latency);
    line(
        "cpu during run (cores)",
        procfs::cpu_line(&cpu_before, &cpu_after, start.elapsed(), ticks),
    );

    // Attempts are logged after the answer is read, so give the last ones a moment.
    let mut rows = stack::attempt_rows(stack).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (rows as u64) < delivered && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        rows = stack::attempt_rows(stack).await?;
    }
    line("attempt-log rows (delivery_attempts)", rows);
    let done = stack::count(
        stack,
        "SELECT count(*) FROM deliveries WHERE status = 'delivered'",
    )
    .await?;
    line("deliveries marked delivered", done);
    if let (Some(before), Some(after)) = (pg_before, stack::pg_stats(stack).await?) {
        line(
            "postgres work per delivery (pg_stat_database)",
            after.per(&before, delivered),
        );
    }

    section(format!("hookgate process (pid {})", stack.pid));
    report::memory(&samples, procfs::memory(stack.pid));
    match stack.exit_status() {
        Some(status) => line("process", format!("EXITED during the run: {status}")),
        None => line("process", "alive"),
    }
    server.abort();
    Ok(())
}

/// Publishes `args.events` events with `args.publishers` in flight; returns the publish
/// latency and the answers' statuses (0 = no answer).
async fn publish_all(stack: &Stack, args: &Args) -> (Histogram, BTreeMap<u16, u64>) {
    let client = reqwest::Client::new();
    let tag = stack::random_hex(4);
    let url = format!("{}/v1/orgs/{ORG}/events", stack.url);
    let results: Vec<(Duration, u16)> = stream::iter(0..args.events)
        .map(|i| {
            let (client, url, tag) = (&client, &url, &tag);
            async move {
                let event = json!({
                    "event_id": format!("evt_load_{tag}_{i}"),
                    "type": "run.completed",
                    "run_id": format!("run_load_{tag}_{i}"),
                    "workflow_id": WORKFLOW,
                    "data": {"seq": i, "sent_at_us": now_us()},
                });
                let sent = Instant::now();
                let status = client
                    .post(url)
                    .bearer_auth(&stack.operator_token)
                    .json(&event)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (sent.elapsed(), status)
            }
        })
        .buffer_unordered(args.publishers.max(1))
        .collect()
        .await;
    let mut latency = Histogram::default();
    let mut statuses = BTreeMap::new();
    for (elapsed, status) in results {
        latency.record(elapsed);
        *statuses.entry(status).or_default() += 1;
    }
    (latency, statuses)
}
