//! `stream`: N Server-Sent Events readers of run timelines (SPEC §12) on one instance
//! while run events flow at a fixed rate. Measures hookgate's memory per idle reader
//! (RSS with the readers connected and idle, minus RSS before they connected) and the
//! latency from publishing an event to a reader parsing it, from a timestamp the event
//! carries in its `data`. Checks that every reader of a run got each event published for
//! it exactly once, in seq order with no gap.
//!
//! Events go where the scheduler sends them: to `<prefix>.run-events` on RabbitMQ in
//! production mode, over `POST /v1/orgs/{org}/events` in embedded mode (no broker). The
//! latency therefore includes the publish hop and the store's group commit: it is an
//! upper bound on commit → reader.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail};
use futures_util::stream::{self, StreamExt};
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::consumer::{self, QueueType, RunsConsumer};
use crate::histogram::Histogram;
use crate::procfs;
use crate::report::{self, line, section};
use crate::stack::{self, Backend, Options, Stack, ORG, WORKFLOW};

pub struct Args {
    pub readers: usize,
    /// Runs the readers spread over (reader k reads run k mod runs).
    pub runs: usize,
    /// Run events per second, spread round-robin over the runs.
    pub rate: f64,
    pub duration: Duration,
    /// How long the connected readers idle before their memory is measured.
    pub settle: Duration,
    /// Give up waiting for the last events when none arrived for this long.
    pub idle: Duration,
}

/// A non-terminal event type: the run's status stays as it is and its streams stay open.
const EVENT_TYPE: &str = "run.progress";
/// Event publishes over HTTP in flight at most (embedded mode).
const HTTP_IN_FLIGHT: usize = 256;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What all readers share: the latency histogram and running totals.
#[derive(Default)]
struct Shared {
    /// Publish → the reader parsed the event.
    latency: Mutex<Histogram>,
    /// hookgate took the event in (its `occurred_at`, set on intake when the publisher
    /// leaves it out) → the reader parsed it: the group commit, the wake and the read,
    /// without the broker or HTTP hop.
    from_intake: Mutex<Histogram>,
    /// Readers whose response headers arrived (the stream is open).
    connected: AtomicU64,
    /// Load events parsed by all readers.
    received: AtomicU64,
}

/// One reader's account of its stream.
#[derive(Debug, Default, Clone)]
struct ReaderTally {
    run: usize,
    /// Events carrying a publish timestamp (the ones this tool published).
    received: u64,
    /// Seqs that skipped ahead (an event missing in between) or went back (a repeat).
    gaps: u64,
    repeats: u64,
    /// The server ended the stream, or it failed, before the tool stopped it.
    ended_early: Option<String>,
}

pub async fn run(options: &Options, args: &Args) -> anyhow::Result<()> {
    check_open_files(args.readers)?;
    let mut stack = Stack::start(options).await?;
    let result = measure(&mut stack, options, args).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

/// Each reader is a socket in this process and one in hookgate (which inherits the limit).
fn check_open_files(readers: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    match soft {
        Some(soft) if soft < readers + 200 => bail!(
            "open-file limit {soft} is too low for {readers} readers: raise it (ulimit -n {})",
            readers + 1024
        ),
        _ => Ok(()),
    }
}

async fn measure(stack: &mut Stack, options: &Options, args: &Args) -> anyhow::Result<()> {
    // Triggered runs go to `<prefix>.runs` with `mandatory`: without a bound queue the
    // relay would keep retrying them through the whole measurement.
    let runs_queue = match stack.prefix() {
        Some(prefix) => Some(
            RunsConsumer::bind(&options.amqp_url, prefix, QueueType::Classic, args.runs).await?,
        ),
        None => None,
    };
    let result = measure_streams(stack, args).await;
    if let Some(queue) = runs_queue {
        queue.close().await;
    }
    result
}

async fn measure_streams(stack: &mut Stack, args: &Args) -> anyhow::Result<()> {
    section(format!(
        "run-event streams ({} mode, pid {})",
        stack.mode_name(),
        stack.pid
    ));
    line("readers", args.readers);
    line("runs (reader k reads run k mod runs)", args.runs);
    line("event rate", format!("{} /s", args.rate));
    line("duration", format!("{:.0} s", args.duration.as_secs_f64()));
    let via = match stack.backend {
        Backend::Production { .. } => "RabbitMQ <prefix>.run-events (as the scheduler)",
        Backend::Embedded => "POST /v1/orgs/{org}/events",
    };
    line("events published through", via);

    let runs = create_runs(stack, args.runs).await?;
    // Let the relay publish the new runs and the process settle before the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = procfs::memory(stack.pid).ok_or_else(|| anyhow!("hookgate is gone"))?;

    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let opening = Instant::now();
    let mut readers = Vec::with_capacity(args.readers);
    for k in 0..args.readers {
        let run = k % runs.len();
        let url = format!("{}/v1/runs/{}/events", stack.url, runs[run]);
        readers.push(tokio::spawn(read(
            client.clone(),
            url,
            stack.operator_token.clone(),
            run,
            shared.clone(),
            stop.clone(),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while (shared.connected.load(Ordering::Relaxed) as usize) < args.readers {
        if Instant::now() > deadline {
            stop.cancel();
            bail!(
                "only {} of {} readers connected within 60 s",
                shared.connected.load(Ordering::Relaxed),
                args.readers
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    line(
        "readers connected in",
        format!("{:.2} s", opening.elapsed().as_secs_f64()),
    );

    let ticks = procfs::clock_ticks();
    let idle_cpu_before = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let idle_started = Instant::now();
    tokio::time::sleep(args.settle).await;
    let idle_cpu_after = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let idle = procfs::memory(stack.pid).ok_or_else(|| anyhow!("hookgate is gone"))?;

    section("idle readers");
    line(
        "hookgate rss before readers / with readers idle",
        format!(
            "{:.1} / {:.1} MiB (after {:.0} s idle)",
            procfs::mib(before.rss_kib),
            procfs::mib(idle.rss_kib),
            args.settle.as_secs_f64()
        ),
    );
    let per_reader = idle.rss_kib.saturating_sub(before.rss_kib) as f64 / args.readers as f64;
    line(
        "memory per idle reader (rss delta / readers)",
        format!("{per_reader:.1} KiB"),
    );
    line(
        "cpu while idle (cores)",
        procfs::cpu_line(
            &idle_cpu_before,
            &idle_cpu_after,
            idle_started.elapsed(),
            ticks,
        ),
    );

    section("events flowing");
    let cpu_before = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let load_started = Instant::now();
    let published = publish(stack, args, &runs).await?;
    let publishing = load_started.elapsed();
    let total: u64 = published.per_run.iter().sum();
    line(
        "events published",
        format!(
            "{total} in {:.1} s ({:.0} /s)",
            publishing.as_secs_f64(),
            total as f64 / publishing.as_secs_f64().max(1e-9)
        ),
    );
    for (outcome, n) in &published.failures {
        line(&format!("publish failed ({outcome})"), n);
    }
    if let Some(answers) = &published.answers {
        report::latency("publish → 202 (commit) latency", answers);
    }

    // Every reader expects every event published for its run.
    let expected: u64 = (0..args.readers)
        .map(|k| published.per_run[k % runs.len()])
        .sum();
    let mut last = shared.received.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    while last < expected && last_change.elapsed() < args.idle {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = shared.received.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
    let cpu_after = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let loaded = procfs::memory(stack.pid);
    let wall = load_started.elapsed();
    stop.cancel();
    let mut tallies = Vec::with_capacity(readers.len());
    for reader in readers {
        tallies.push(reader.await?);
    }

    let received: u64 = tallies.iter().map(|t| t.received).sum();
    let missing: u64 = tallies
        .iter()
        .map(|t| published.per_run[t.run].saturating_sub(t.received))
        .sum();
    let extra: u64 = tallies
        .iter()
        .map(|t| t.received.saturating_sub(published.per_run[t.run]))
        .sum();
    line(
        "reader receipts expected (events × readers of their run)",
        expected,
    );
    line("reader receipts", received);
    line("missing", missing);
    line("extra (more than published)", extra);
    line("seq gaps", tallies.iter().map(|t| t.gaps).sum::<u64>());
    line(
        "seq repeats",
        tallies.iter().map(|t| t.repeats).sum::<u64>(),
    );
    let mut ended: HashMap<String, u64> = HashMap::new();
    for reason in tallies.iter().filter_map(|t| t.ended_early.clone()) {
        *ended.entry(reason).or_default() += 1;
    }
    for (reason, n) in &ended {
        line(&format!("streams ended early ({reason})"), n);
    }
    let latency = shared
        .latency
        .lock()
        .map_err(|_| anyhow!("latency histogram poisoned"))?
        .clone();
    line(
        "latency measured",
        "publish → reader parsed the event (includes the broker or HTTP hop and the group commit)",
    );
    report::latency("publish → reader latency", &latency);
    let from_intake = shared
        .from_intake
        .lock()
        .map_err(|_| anyhow!("latency histogram poisoned"))?
        .clone();
    report::latency(
        "hookgate took it in (occurred_at) → reader latency",
        &from_intake,
    );
    line(
        "cpu while events flow (cores)",
        procfs::cpu_line(&cpu_before, &cpu_after, wall, ticks),
    );

    section(format!("hookgate process (pid {})", stack.pid));
    line(
        "rss samples while events flowed (MiB)",
        published
            .rss_samples
            .iter()
            .map(|kib| format!("{:.1}", procfs::mib(*kib)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    if let Some(loaded) = loaded {
        line(
            "rss after the load / peak (VmHWM)",
            format!(
                "{:.1} / {:.1} MiB",
                procfs::mib(loaded.rss_kib),
                procfs::mib(loaded.hwm_kib)
            ),
        );
    }
    match stack.exit_status() {
        Some(status) => line("process", format!("EXITED during the run: {status}")),
        None => line("process", "alive"),
    }
    Ok(())
}

/// Triggers `count` runs through the REST API; returns their ids.
async fn create_runs(stack: &Stack, count: usize) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let path = format!("/v1/orgs/{ORG}/workflows/{WORKFLOW}/runs");
    let replies: Vec<anyhow::Result<Value>> = stream::iter(0..count)
        .map(|i| {
            let path = &path;
            async move { stack.post(path, json!({"input": {"n": i}}), 201).await }
        })
        .buffered(16)
        .collect()
        .await;
    let mut runs = Vec::with_capacity(count);
    for reply in replies {
        let reply = reply?;
        let id = reply["run"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no run id in {reply}"))?;
        runs.push(id.to_owned());
    }
    if runs.is_empty() {
        bail!("--runs must be at least 1");
    }
    line(
        "runs created (POST …/workflows/{wf}/runs)",
        format!("{} in {:.1} s", runs.len(), started.elapsed().as_secs_f64()),
    );
    Ok(runs)
}

/// One SSE reader: opens the stream, parses frames until stopped, checks seqs.
async fn read(
    client: reqwest::Client,
    url: String,
    token: String,
    run: usize,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> ReaderTally {
    let mut tally = ReaderTally {
        run,
        ..ReaderTally::default()
    };
    let response = client
        .get(&url)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await;
    let response = match response {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tally.ended_early = Some(format!("status {}", r.status().as_u16()));
            return tally;
        }
        Err(error) => {
            tally.ended_early = Some(format!("connect: {error}"));
            return tally;
        }
    };
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut last_seq: Option<u64> = None;
    loop {
        let chunk = tokio::select! {
            () = stop.cancelled() => return tally,
            chunk = body.next() => chunk,
        };
        let chunk = match chunk {
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                tally.ended_early = Some(format!("read: {error}"));
                return tally;
            }
            None => {
                tally.ended_early = Some("server closed the stream".to_owned());
                return tally;
            }
        };
        let at = now_us();
        buffer.extend_from_slice(&chunk);
        // An SSE frame ends with a blank line.
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            let Some(event) = frame_data(&frame) else {
                continue; // a heartbeat comment
            };
            let seq = event["seq"].as_u64().unwrap_or(0);
            match last_seq {
                Some(last) if seq <= last => tally.repeats += 1,
                Some(last) if seq > last + 1 => tally.gaps += 1,
                None if seq > 1 => tally.gaps += 1,
                _ => {}
            }
            last_seq = Some(last_seq.map_or(seq, |last| last.max(seq)));
            if let Some(sent) = event["data"]["sent_at_us"].as_u64() {
                tally.received += 1;
                shared.received.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut latency) = shared.latency.lock() {
                    latency.record_us(at.saturating_sub(sent));
                }
                let taken_in = event["occurred_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .and_then(|t| u64::try_from(t.timestamp_micros()).ok());
                if let (Some(taken_in), Ok(mut latency)) = (taken_in, shared.from_intake.lock()) {
                    latency.record_us(at.saturating_sub(taken_in));
                }
            }
        }
    }
}

/// The JSON of a frame's `data:` line; `None` for a comment-only frame.
fn frame_data(frame: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(frame).ok()?;
    let data = text.lines().find_map(|l| l.strip_prefix("data:"))?;
    serde_json::from_str(data.trim_start()).ok()
}

struct Published {
    /// Events accepted, per run index.
    per_run: Vec<u64>,
    /// Why publishes failed, and how many.
    failures: HashMap<String, u64>,
    /// Publish → 202 answer (embedded mode: the answer comes at the event's commit).
    answers: Option<Histogram>,
    /// hookgate's RSS once a second while publishing (KiB).
    rss_samples: Vec<u64>,
}

/// Publishes `rate × duration` events, round-robin over the runs, at a fixed rate.
async fn publish(stack: &Stack, args: &Args, runs: &[String]) -> anyhow::Result<Published> {
    let tag = stack::random_hex(4);
    let event = |i: u64| {
        let run = (i % runs.len() as u64) as usize;
        json!({
            "event_id": format!("evt_stream_{tag}_{i}"),
            "type": EVENT_TYPE,
            "run_id": runs[run],
            "org": ORG,
            "workflow_id": WORKFLOW,
            "data": {"n": i, "sent_at_us": now_us()},
        })
    };
    let total = (args.rate * args.duration.as_secs_f64()).round() as u64;
    let mut published = Published {
        per_run: vec![0; runs.len()],
        failures: HashMap::new(),
        answers: None,
        rss_samples: Vec::new(),
    };
    let started = Instant::now();
    let mut next_sample = started;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0u64;

    match &stack.backend {
        Backend::Production {
            amqp_url, prefix, ..
        } => {
            let connection = consumer::connect(amqp_url).await?;
            let channel = connection.create_channel().await?;
            let exchange = format!("{prefix}.run-events");
            while sent < total {
                ticker.tick().await;
                sample_rss(stack.pid, &mut next_sample, &mut published.rss_samples);
                let due = ((started.elapsed().as_secs_f64() * args.rate) as u64).min(total);
                while sent < due {
                    let body = serde_json::to_vec(&event(sent))?;
                    let properties = BasicProperties::default()
                        .with_content_type("application/json".into())
                        .with_delivery_mode(2);
                    let outcome = channel
                        .basic_publish(
                            &exchange,
                            &format!("{EVENT_TYPE}.{WORKFLOW}"),
                            BasicPublishOptions::default(),
                            &body,
                            properties,
                        )
                        .await;
                    match outcome {
                        Ok(_) => published.per_run[(sent % runs.len() as u64) as usize] += 1,
                        Err(error) => {
                            *published.failures.entry(error.to_string()).or_default() += 1
                        }
                    }
                    sent += 1;
                }
            }
            let _ = connection.close(0, "hookgate-load stream done").await;
        }
        Backend::Embedded => {
            let client = reqwest::Client::new();
            let url = format!("{}/v1/orgs/{ORG}/events", stack.url);
            let in_flight = Arc::new(Semaphore::new(HTTP_IN_FLIGHT));
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            while sent < total {
                ticker.tick().await;
                sample_rss(stack.pid, &mut next_sample, &mut published.rss_samples);
                let due = ((started.elapsed().as_secs_f64() * args.rate) as u64).min(total);
                while sent < due {
                    let permit = in_flight.clone().acquire_owned().await?;
                    let request = client
                        .post(&url)
                        .bearer_auth(&stack.operator_token)
                        .json(&event(sent));
                    let (tx, run) = (tx.clone(), (sent % runs.len() as u64) as usize);
                    tokio::spawn(async move {
                        let at = Instant::now();
                        let status = request.send().await.map(|r| r.status().as_u16());
                        let _ = tx.send((run, status.map_err(|e| e.to_string()), at.elapsed()));
                        drop(permit);
                    });
                    sent += 1;
                }
            }
            drop(tx);
            let mut answers = Histogram::default();
            while let Some((run, status, took)) = rx.recv().await {
                match status {
                    Ok(202) => {
                        published.per_run[run] += 1;
                        answers.record(took);
                    }
                    Ok(status) => {
                        *published
                            .failures
                            .entry(format!("status {status}"))
                            .or_default() += 1
                    }
                    Err(error) => *published.failures.entry(error).or_default() += 1,
                }
            }
            published.answers = Some(answers);
        }
    }
    Ok(published)
}

fn sample_rss(pid: u32, next: &mut Instant, samples: &mut Vec<u64>) {
    if Instant::now() >= *next {
        *next += Duration::from_secs(1);
        if let Some(memory) = procfs::memory(pid) {
            samples.push(memory.rss_kib);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_yields_its_data_and_a_comment_nothing() {
        let frame =
            b"id: 3\nevent: run.progress\ndata: {\"seq\":3,\"data\":{\"sent_at_us\":7}}\n\n";
        let event = frame_data(frame).expect("data");
        assert_eq!(event["seq"], 3);
        assert_eq!(event["data"]["sent_at_us"], 7);
        assert!(frame_data(b":\n\n").is_none());
    }
}
