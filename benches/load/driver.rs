//! The load generator: N HTTP/1.1 connections (exactly N sockets, see `wire.rs`), each
//! sending one request at a time, either as fast as answers come back
//! (closed loop) or on a fixed global schedule (open loop). In the open loop a request's
//! latency is measured from the moment it was *due*, not from when a free connection
//! got to send it, so a stalled server shows up in the percentiles instead of quietly
//! lowering the offered rate (coordinated omission).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::histogram::Histogram;
use crate::wire;

/// Builds request number `seq` (each a fresh delivery id, signed), serialised for the
/// wire (`wire::post`).
pub trait RequestSource: Send + Sync + 'static {
    fn request(&self, seq: u64) -> anyhow::Result<Vec<u8>>;
}

#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Closed loop: each connection sends its next request when the last is answered.
    Max,
    /// Open loop: request i is due at start + i / rate, on whichever connection is free.
    Rate(f64),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub connections: usize,
    /// The measured part: rates and latencies cover it alone.
    pub duration: Duration,
    /// Sent first, outside the rates and latencies.
    pub warmup: Duration,
    pub pace: Pace,
    /// Per request; past it the request counts as `timeout` and the connection is
    /// replaced (its state is unknown).
    pub timeout: Duration,
    /// Keep the `run_id` of every 2xx answer (hookgate), or not (the bare server).
    pub collect_run_ids: bool,
}

/// Live counters, for progress lines while the load runs (soak).
#[derive(Default)]
pub struct Progress {
    pub answered: AtomicU64,
    pub ok: AtomicU64,
    /// Slowest answer since the sampler last took it (µs), and how many answers took
    /// longer than [`SLOW`]: a timeline of the latency tail, to match against what the
    /// stack did at that second.
    pub slowest_us: AtomicU64,
    pub slow: AtomicU64,
}

/// SPEC §10's p99 bound at 5,000/s.
pub const SLOW: Duration = Duration::from_millis(25);

#[derive(Default)]
pub struct Outcome {
    /// Every answered request.
    pub all: Histogram,
    /// Answers with a 2xx status.
    pub ok: Histogram,
    /// Answers with any other status (how fast is a 503?).
    pub refused: Histogram,
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer, by reason.
    pub errors: BTreeMap<&'static str, u64>,
    pub run_ids: Vec<String>,
    /// End of the warm-up → last answer in.
    pub elapsed: Duration,
    /// Requests sent (answered or not), warm-up included.
    pub sent: u64,
    /// Answers to warm-up requests (in `statuses`, not in the histograms).
    pub warmup_answered: u64,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.all.merge(&other.all);
        self.ok.merge(&other.ok);
        self.refused.merge(&other.refused);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        for (reason, n) in other.errors {
            *self.errors.entry(reason).or_default() += n;
        }
        self.run_ids.extend(other.run_ids);
        self.sent += other.sent;
        self.warmup_answered += other.warmup_answered;
    }

    pub fn answered(&self) -> u64 {
        self.all.count()
    }

    pub fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Shared<S> {
    plan: Plan,
    source: S,
    next_seq: AtomicU64,
    start: Instant,
    progress: Arc<Progress>,
}

/// Runs `plan` against `plan.addr` with requests from `source`; returns when every
/// connection has sent its last request and had its answer (or timeout).
pub async fn run<S: RequestSource>(plan: Plan, source: S, progress: Arc<Progress>) -> Outcome {
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        source,
        next_seq: AtomicU64::new(0),
        start: Instant::now(),
        progress,
    });
    let tasks: Vec<_> = (0..plan.connections)
        .map(|_| tokio::spawn(connection(shared.clone())))
        .collect();
    let mut outcome = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(part) => outcome.merge(part),
            Err(_) => *outcome.errors.entry("task panicked").or_default() += 1,
        }
    }
    outcome.elapsed = shared.start.elapsed().saturating_sub(plan.warmup);
    outcome
}

/// When request `seq` is due, or None once the run is over.
fn due<S>(shared: &Shared<S>, seq: u64) -> Option<Instant> {
    let end = shared.start + shared.plan.warmup + shared.plan.duration;
    match shared.plan.pace {
        Pace::Max => {
            let now = Instant::now();
            (now < end).then_some(now)
        }
        Pace::Rate(rate) => {
            let at = shared.start + Duration::from_secs_f64(seq as f64 / rate);
            (at < end).then_some(at)
        }
    }
}

#[derive(Deserialize)]
struct Ack {
    run_id: String,
}

async fn connection<S: RequestSource>(shared: Arc<Shared<S>>) -> Outcome {
    let plan = &shared.plan;
    let mut out = Outcome::default();
    let mut connection: Option<wire::Connection> = None;
    loop {
        let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
        let Some(due_at) = due(&shared, seq) else {
            break;
        };
        // Only sleep when the request is really due later: a sleep for a past instant still
        // waits for the timer wheel's next tick (up to 1 ms), which would throttle the
        // closed loop.
        if due_at > Instant::now() {
            tokio::time::sleep_until(due_at).await;
        }
        let request = match shared.source.request(seq) {
            Ok(request) => request,
            Err(_) => {
                *out.errors.entry("request build").or_default() += 1;
                continue;
            }
        };
        // (Re)connect lazily: a server may close a connection after any answer.
        if connection.is_none() {
            connection = wire::Connection::open(plan.addr).await.ok();
        }
        let Some(live) = connection.as_mut() else {
            *out.errors.entry("connect").or_default() += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        out.sent += 1;
        let sent_at = match plan.pace {
            Pace::Max => Instant::now(),
            Pace::Rate(_) => due_at,
        };
        let result = tokio::time::timeout(plan.timeout, live.exchange(&request)).await;
        match result {
            Ok(Ok(answer)) => {
                let latency = sent_at.elapsed();
                let measured = sent_at >= shared.start + plan.warmup;
                record(&mut out, answer.status, latency, measured);
                let progress = &shared.progress;
                progress.answered.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                progress.slowest_us.fetch_max(micros, Ordering::Relaxed);
                if latency > SLOW {
                    progress.slow.fetch_add(1, Ordering::Relaxed);
                }
                if (200..300).contains(&answer.status) {
                    shared.progress.ok.fetch_add(1, Ordering::Relaxed);
                    if plan.collect_run_ids {
                        match serde_json::from_slice::<Ack>(live.body(&answer)) {
                            Ok(ack) => out.run_ids.push(ack.run_id),
                            Err(_) => *out.errors.entry("2xx without run_id").or_default() += 1,
                        }
                    }
                }
                if answer.closes {
                    connection = None;
                }
            }
            Ok(Err(_)) => {
                *out.errors.entry("connection error").or_default() += 1;
                connection = None;
            }
            Err(_) => {
                *out.errors.entry("timeout").or_default() += 1;
                connection = None;
            }
        }
    }
    out
}

fn record(out: &mut Outcome, status: u16, latency: Duration, measured: bool) {
    *out.statuses.entry(status).or_default() += 1;
    if !measured {
        out.warmup_answered += 1;
        return;
    }
    out.all.record(latency);
    if (200..300).contains(&status) {
        out.ok.record(latency);
    } else {
        out.refused.record(latency);
    }
}
