//! `ingress` and `soak`: genuinely signed GitHub webhooks (one delivery id each) against
//! hookgate, every 2xx-acked run checked off on the runs exchange, and in `ingress` the
//! same load against a bare hyper server for the ratio.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hookgate::verify::VerifierConfig;

use crate::bare::BareServer;
use crate::consumer::{QueueType, RunsConsumer};
use crate::driver::{self, Outcome, Pace, Plan, Progress, RequestSource};
use crate::procfs;
use crate::report::{self, line, section};
use crate::sampler::Sampler;
use crate::stack::{self, Backend, Options, Stack};
use crate::wire;

const IDLE_BASELINE: Duration = Duration::from_secs(3);

/// Settings shared by `ingress` and `soak`.
pub struct Load {
    pub connections: usize,
    pub duration: Duration,
    /// Sent before `duration`, outside the figures (see `--warmup`).
    pub warmup: Duration,
    pub pace: Pace,
    pub body_size: usize,
    pub timeout: Duration,
    pub sample_every: Duration,
    pub queue_type: QueueType,
    /// How long the queue check waits for the last runs after the load ends.
    pub drain_limit: Duration,
    /// Run the bare-server baseline after hookgate (ingress), or not (soak).
    pub bare: bool,
    /// Print each sample as it is taken (soak).
    pub live: bool,
}

impl Load {
    /// About how many requests the load will send: the fixed rate's count, or at most
    /// this machine's ceiling (SPEC §10: ~11k/s) at max rate.
    fn expected(&self) -> usize {
        let rate = match self.pace {
            Pace::Rate(rate) => rate,
            Pace::Max => 12_000.0,
        };
        (rate * (self.warmup + self.duration).as_secs_f64() * 1.1) as usize
    }
}

/// A GitHub push body of exactly `size` bytes (JSON, padded), or the shortest one.
pub fn github_body(size: usize) -> Vec<u8> {
    let head = concat!(
        r#"{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","#,
        r#""after":"76ae82c7b1a177c8d03f9e96e0adf2466113728f","#,
        r#""repository":{"id":1296269,"full_name":"acme/app","private":true},"#,
        r#""pusher":{"name":"hookgate-load"},"padding":""#
    );
    let tail = r#""}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(size.max(head.len() + tail.len()));
    body.extend_from_slice(head.as_bytes());
    body.resize(head.len() + pad, b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Signed GitHub deliveries to one path; the delivery id is a UUID made of a random
/// per-run prefix and the request's sequence number, so every request is a new event.
pub struct GithubRequests {
    path: String,
    host: String,
    secret: Vec<u8>,
    body: Vec<u8>,
    id_prefix: String,
}

impl GithubRequests {
    pub fn new(path: String, host: String, secret: &str, body_size: usize) -> Self {
        let r = stack::random_hex(9);
        Self {
            path,
            host,
            secret: secret.as_bytes().to_vec(),
            body: github_body(body_size),
            id_prefix: format!("{}-{}-4{}-8{}", &r[..8], &r[8..12], &r[12..15], &r[15..18]),
        }
    }

    fn delivery_id(&self, seq: u64) -> String {
        format!("{}-{:012x}", self.id_prefix, seq)
    }
}

impl RequestSource for GithubRequests {
    fn request(&self, seq: u64) -> anyhow::Result<Vec<u8>> {
        let now = chrono::Utc::now().timestamp();
        let id = self.delivery_id(seq);
        let signed = hookgate::verify::sign(
            &VerifierConfig::Github,
            &self.secret,
            &self.body,
            "",
            now,
            &id,
        )?;
        let mut headers = vec![
            ("host", self.host.as_str()),
            ("content-type", "application/json"),
            ("user-agent", "GitHub-Hookshot/hookgate-load"),
            ("x-github-event", "push"),
        ];
        headers.extend(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        Ok(wire::post(&self.path, &headers, &self.body))
    }
}

fn pace_text(pace: Pace) -> String {
    match pace {
        Pace::Max => "max rate (closed loop)".to_owned(),
        Pace::Rate(r) => format!("{r:.0}/s (open loop, latency from due time)"),
    }
}

pub async fn run(options: &Options, load: &Load) -> anyhow::Result<()> {
    let mut stack = Stack::start(options).await?;
    let result = measure(&mut stack, load).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &mut Stack, load: &Load) -> anyhow::Result<()> {
    let secret = stack::random_hex(20);
    let source_id = stack.github_source(&secret).await?;
    let consumer = match &stack.backend {
        Backend::Production {
            amqp_url, prefix, ..
        } => Some(RunsConsumer::bind(amqp_url, prefix, load.queue_type, load.expected()).await?),
        Backend::Embedded => None,
    };
    let path = format!("/v1/ingress/{source_id}");
    let ticks = procfs::clock_ticks();

    section(format!(
        "ingress → hookgate ({} mode, pid {})",
        stack.mode_name(),
        stack.pid
    ));
    line("connections", load.connections);
    line("pace", pace_text(load.pace));
    line("warm-up (not measured)", format!("{:?}", load.warmup));
    line("body", format!("{} B (GitHub verifier)", load.body_size));
    if let Some(prefix) = stack.prefix() {
        line(
            "runs exchange",
            format!("{prefix}.runs → {:?} queue", load.queue_type).to_lowercase(),
        );
    }
    // What the stack burns with no load at all (pollers, broker heartbeats): the floor
    // under the figures below.
    let idle_before = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    tokio::time::sleep(IDLE_BASELINE).await;
    let idle_after = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    line(
        "cpu idle before load (cores)",
        procfs::cpu_line(&idle_before, &idle_after, IDLE_BASELINE, ticks),
    );
    let progress = Arc::new(Progress::default());
    let sampler = Sampler::start(
        stack.pid,
        load.sample_every,
        load.live,
        progress.clone(),
        consumer.as_ref().map(RunsConsumer::counter),
    );
    let plan = Plan {
        addr: stack.addr,
        connections: load.connections,
        duration: load.duration,
        warmup: load.warmup,
        pace: load.pace,
        timeout: load.timeout,
        collect_run_ids: true,
    };
    let source = GithubRequests::new(
        path.clone(),
        stack.addr.to_string(),
        &secret,
        load.body_size,
    );
    // The "before" figures are taken when the warm-up ends, as the measured part begins.
    let before = async {
        tokio::time::sleep(load.warmup).await;
        let pg = stack::pg_stats(stack).await;
        (pg, procfs::cpu_snapshot(Some(stack.pid), stack.database()))
    };
    let (outcome, (pg_before, cpu_before)) =
        tokio::join!(driver::run(plan.clone(), source, progress), before);
    let pg_before = pg_before?;
    let cpu_after = procfs::cpu_snapshot(Some(stack.pid), stack.database());
    let samples = sampler.finish().await;
    report::outcome(&outcome);
    line(
        "cpu during load (cores)",
        procfs::cpu_line(&cpu_before, &cpu_after, outcome.elapsed, ticks),
    );

    section("acked runs vs published runs");
    match &consumer {
        Some(consumer) => {
            let check = consumer
                .check(&outcome.run_ids, Duration::from_secs(15), load.drain_limit)
                .await;
            line("acked (2xx)", check.acked);
            line("published (acked runs seen)", check.published);
            line("missing", check.missing);
            line("duplicates", check.duplicates);
            line("published but never acked", check.unacked_published);
            line("messages consumed", check.messages);
            line(
                "drain after load",
                format!("{:.1} s", check.drain.as_secs_f64()),
            );
        }
        None => embedded_check(stack, &outcome).await?,
    }
    if let Some(before) = pg_before {
        // Backends flush their counters at most once a second.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if let Some(after) = stack::pg_stats(stack).await? {
            line(
                "postgres work per 2xx (pg_stat_database, incl. the relay)",
                after.per(&before, outcome.ok.count()),
            );
        }
    }

    section(format!("hookgate process (pid {})", stack.pid));
    report::memory(&samples, procfs::memory(stack.pid));
    report::backlog(&samples);
    report::tail(&samples);
    match stack.exit_status() {
        Some(status) => line("process", format!("EXITED during the run: {status}")),
        None => line("process", "alive"),
    }
    if let Some(consumer) = consumer {
        consumer.close().await;
    }

    if load.bare {
        let bare = bare_baseline(&plan, &path, &secret, load, ticks).await?;
        section("ratio hookgate / bare hyper");
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        line(
            "2xx throughput ratio",
            format!(
                "{:.3}",
                ratio(
                    outcome.per_second(outcome.ok.count()),
                    bare.per_second(bare.ok.count())
                )
            ),
        );
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            line(
                &format!("latency {name} ratio"),
                format!(
                    "{:.1}",
                    ratio(
                        outcome.all.quantile_us(q) as f64,
                        bare.all.quantile_us(q) as f64
                    )
                ),
            );
        }
    }
    Ok(())
}

async fn bare_baseline(
    plan: &Plan,
    path: &str,
    secret: &str,
    load: &Load,
    ticks: u64,
) -> anyhow::Result<Outcome> {
    let bare = BareServer::start()?;
    section("ingress → bare hyper 202 server (in-process, own 2-thread runtime)");
    line("connections", load.connections);
    line("pace", pace_text(load.pace));
    line("warm-up (not measured)", format!("{:?}", load.warmup));
    line(
        "body",
        format!("{} B (same signed requests)", load.body_size),
    );
    let plan = Plan {
        addr: bare.addr,
        collect_run_ids: false,
        ..plan.clone()
    };
    let source = GithubRequests::new(
        path.to_owned(),
        bare.addr.to_string(),
        secret,
        load.body_size,
    );
    let warmup = plan.warmup;
    let before = async {
        tokio::time::sleep(warmup).await;
        procfs::cpu_snapshot(None, None)
    };
    let (outcome, cpu_before) = tokio::join!(
        driver::run(plan, source, Arc::new(Progress::default())),
        before
    );
    let cpu_after = procfs::cpu_snapshot(None, None);
    drop(bare);
    report::outcome(&outcome);
    line(
        "cpu during load (cores; the bare server counts as load tool)",
        procfs::cpu_line(&cpu_before, &cpu_after, outcome.elapsed, ticks),
    );
    Ok(outcome)
}

/// Embedded mode has no broker to watch: check the acked runs in the store instead.
async fn embedded_check(stack: &Stack, outcome: &Outcome) -> anyhow::Result<()> {
    let path = stack.sqlite_path();
    let statuses = tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let mut query = conn.prepare("SELECT id, status FROM runs")?;
        let rows = query.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut statuses = HashMap::new();
        for row in rows {
            let (id, status) = row?;
            statuses.insert(id, status);
        }
        anyhow::Ok(statuses)
    })
    .await??;
    let stored = outcome
        .run_ids
        .iter()
        .filter(|id| statuses.contains_key(*id))
        .count();
    let published = outcome
        .run_ids
        .iter()
        .filter(|id| statuses.get(*id).is_some_and(|s| s == "published"))
        .count();
    line("acked (2xx)", outcome.run_ids.len());
    line("stored (acked runs in the embedded store)", stored);
    line("missing", outcome.run_ids.len() - stored);
    line("marked published (in-process queue)", published);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_requested_size_and_is_json() {
        for size in [1024, 16 * 1024, 300] {
            let body = github_body(size);
            assert_eq!(body.len(), size);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(value["ref"], "refs/heads/main");
        }
        assert!(serde_json::from_slice::<serde_json::Value>(&github_body(10)).is_ok());
    }

    /// The headers and body of a request as `wire::post` wrote it.
    fn parse(request: &[u8]) -> (http::HeaderMap, Vec<u8>) {
        let blank = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&request[..blank]).unwrap();
        let mut headers = http::HeaderMap::new();
        for line in head.split("\r\n").skip(1) {
            let (name, value) = line.split_once(": ").unwrap();
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let body = request[blank + 4..].to_vec();
        assert_eq!(headers["content-length"], body.len().to_string().as_str());
        (headers, body)
    }

    #[test]
    fn requests_are_signed_and_have_unique_delivery_ids() {
        let source = GithubRequests::new("/v1/ingress/src_1".into(), "h:1".into(), "s3cret", 1024);
        let (a, body) = parse(&source.request(1).unwrap());
        let (b, _) = parse(&source.request(2).unwrap());
        let id = |h: &http::HeaderMap| h["x-github-delivery"].clone();
        assert_ne!(id(&a), id(&b));
        assert_eq!(id(&a).len(), 36, "UUID-shaped: {:?}", id(&a));
        assert_eq!(body, github_body(1024));
        let secrets = [hookgate::verify::SecretCandidate {
            id: "s",
            value: b"s3cret",
            prepared: None,
        }];
        let verified =
            hookgate::verify::verify(&VerifierConfig::Github, &secrets, &a, &body, "", 0).unwrap();
        assert_eq!(verified.event_name(), Some("push"));
    }
}
