//! `ingress --versus <limit-pipeline binary>`: hookgate side by side with the least work
//! the ingress job needs (`../shared/perf/limit-pipeline`, SPEC §10), on the same machine
//! in the same run with the same signed load. The two targets alternate (H L, L H, …),
//! each trial on a fresh database and fresh broker objects; for both, every acked
//! request must have reached RabbitMQ. Prints each trial, each pair's ratio and the
//! median ratio, which is the figure that holds across machines.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use tokio::time::Instant;

use crate::consumer::{self, RunsConsumer};
use crate::driver::{self, Outcome, Plan, Progress};
use crate::ingress::{GithubRequests, Load};
use crate::procfs;
use crate::report::{line, ms, section};
use crate::stack::{self, Backend, Options, Stack};

/// How long the acked-messages check waits for the next message before it gives up.
const DRAIN_IDLE: Duration = Duration::from_secs(15);

pub struct Versus {
    /// The built limit-pipeline binary (this tool builds nothing).
    pub binary: PathBuf,
    pub pairs: usize,
}

/// One target's figures over the measured part of one trial.
struct Trial {
    /// 2xx answers per second.
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    /// 2xx answers, warm-up included.
    acked: u64,
    missing: u64,
    non_2xx: u64,
    cpu: String,
    cpu_per_2xx: String,
}

impl Trial {
    fn print(&self, name: &str) {
        line(
            name,
            format!(
                "{:.0} 2xx/s, p50 {}, p99 {}, acked {}, missing {}, non-2xx {}",
                self.rate,
                ms(self.p50_us),
                ms(self.p99_us),
                self.acked,
                self.missing,
                self.non_2xx
            ),
        );
        line(&format!("{name} cpu (cores)"), &self.cpu);
        line(&format!("{name} cpu per 2xx"), &self.cpu_per_2xx);
    }
}

pub async fn run(options: &Options, load: &Load, versus: &Versus) -> anyhow::Result<()> {
    if options.embedded {
        bail!("--versus compares production mode: the limit pipeline uses PostgreSQL and RabbitMQ");
    }
    if !versus.binary.exists() {
        bail!(
            "no limit-pipeline binary at {} (build it: cd ../shared/perf/limit-pipeline && \
             CARGO_TARGET_DIR=/tmp/limit-target cargo build --release)",
            versus.binary.display()
        );
    }
    section("side by side: hookgate vs the limit pipeline");
    line("limit pipeline", versus.binary.display());
    line("connections", load.connections);
    line(
        "per trial",
        format!(
            "{:?} warm-up + {:?} measured, {} B signed GitHub bodies",
            load.warmup, load.duration, load.body_size
        ),
    );
    line("pairs", format!("{} (order alternates)", versus.pairs));
    let ticks = procfs::clock_ticks();
    let mut ratios = Vec::new();
    let mut missing = 0;
    for pair in 1..=versus.pairs {
        section(format!("pair {pair}"));
        let (hookgate, limit) = if pair % 2 == 1 {
            let h = hookgate_trial(options, load, ticks).await?;
            let l = limit_trial(options, load, &versus.binary, ticks).await?;
            (h, l)
        } else {
            let l = limit_trial(options, load, &versus.binary, ticks).await?;
            let h = hookgate_trial(options, load, ticks).await?;
            (h, l)
        };
        hookgate.print("hookgate");
        limit.print("limit");
        let ratio = if limit.rate > 0.0 {
            hookgate.rate / limit.rate
        } else {
            f64::NAN
        };
        line("ratio hookgate / limit", format!("{ratio:.3}"));
        missing += hookgate.missing + limit.missing;
        ratios.push(ratio);
    }
    section("result");
    line(
        "ratios",
        ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    line(
        "median ratio hookgate / limit",
        format!("{:.3}", median(&ratios)),
    );
    line("acked but missing on the broker (both targets)", missing);
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn plan(addr: SocketAddr, load: &Load, collect_run_ids: bool) -> Plan {
    Plan {
        addr,
        connections: load.connections,
        duration: load.duration,
        warmup: load.warmup,
        pace: load.pace,
        timeout: load.timeout,
        collect_run_ids,
    }
}

/// Runs the load against `addr`; CPU is counted over the measured part only.
async fn drive(
    plan: Plan,
    source: GithubRequests,
    pid: u32,
    database: &str,
) -> (Outcome, procfs::CpuSnapshot, procfs::CpuSnapshot) {
    let warmup = plan.warmup;
    let before = async {
        tokio::time::sleep(warmup).await;
        procfs::cpu_snapshot(Some(pid), Some(database))
    };
    let (outcome, before) = tokio::join!(
        driver::run(plan, source, Arc::new(Progress::default())),
        before
    );
    let after = procfs::cpu_snapshot(Some(pid), Some(database));
    (outcome, before, after)
}

fn trial(
    outcome: &Outcome,
    cpu: (&procfs::CpuSnapshot, &procfs::CpuSnapshot),
    ticks: u64,
    target: &str,
    acked: u64,
    missing: u64,
) -> Trial {
    let non_2xx = outcome
        .statuses
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, n)| n)
        .sum::<u64>()
        + outcome.errors.values().sum::<u64>();
    Trial {
        rate: outcome.per_second(outcome.ok.count()),
        p50_us: outcome.all.quantile_us(0.5),
        p99_us: outcome.all.quantile_us(0.99),
        acked,
        missing,
        non_2xx,
        // cpu_line names the process under test "hookgate".
        cpu: procfs::cpu_line(cpu.0, cpu.1, outcome.elapsed, ticks).replacen("hookgate", target, 1),
        cpu_per_2xx: procfs::cpu_per_unit(cpu.0, cpu.1, outcome.ok.count(), ticks, target),
    }
}

async fn hookgate_trial(options: &Options, load: &Load, ticks: u64) -> anyhow::Result<Trial> {
    let stack = Stack::start(options).await?;
    let result = hookgate_measure(&stack, load, ticks).await;
    let stopped = stack.stop().await;
    let trial = result?;
    stopped?;
    Ok(trial)
}

async fn hookgate_measure(stack: &Stack, load: &Load, ticks: u64) -> anyhow::Result<Trial> {
    let Backend::Production {
        amqp_url,
        prefix,
        database,
        ..
    } = &stack.backend
    else {
        bail!("hookgate runs in production mode here");
    };
    let secret = stack::random_hex(20);
    let source_id = stack.github_source(&secret).await?;
    let consumer = RunsConsumer::bind(amqp_url, prefix, load.queue_type, 200_000).await?;
    let source = GithubRequests::new(
        format!("/v1/ingress/{source_id}"),
        stack.addr.to_string(),
        &secret,
        load.body_size,
    );
    let (outcome, before, after) =
        drive(plan(stack.addr, load, true), source, stack.pid, database).await;
    let check = consumer
        .check(&outcome.run_ids, DRAIN_IDLE, load.drain_limit)
        .await;
    consumer.close().await;
    Ok(trial(
        &outcome,
        (&before, &after),
        ticks,
        "hookgate",
        check.acked as u64,
        check.missing as u64,
    ))
}

/// The limit pipeline as a child process on its own fresh database and queue.
struct LimitPipeline {
    child: Child,
    addr: SocketAddr,
    admin_url: String,
    amqp_url: String,
    database: String,
    queue: String,
    log: PathBuf,
}

impl LimitPipeline {
    async fn start(binary: &Path, options: &Options, secret: &str) -> anyhow::Result<Self> {
        let tag = stack::random_hex(4);
        let database = format!("hookgate_limit_{tag}");
        let queue = format!("hookgate_limit_{tag}");
        let admin = stack::postgres(&options.postgres_admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .with_context(|| format!("cannot create database {database}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!("hookgate-limit-{tag}.log"));
        let child = Command::new(binary)
            .env("LISTEN", addr.to_string())
            .env(
                "PG_URL",
                stack::database_url(&options.postgres_admin_url, &database)?,
            )
            .env("AMQP_URL", &options.amqp_url)
            .env("QUEUE", &queue)
            .env("SECRET", secret)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let mut pipeline = Self {
            child,
            addr,
            admin_url: options.postgres_admin_url.clone(),
            amqp_url: options.amqp_url.clone(),
            database,
            queue,
            log,
        };
        // It listens only after its table, queue and channels are ready.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(pipeline);
            }
            if pipeline.child.try_wait()?.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&pipeline.log).unwrap_or_default();
                pipeline.stop().await;
                bail!("the limit pipeline did not start; its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(connection) = consumer::connect(&self.amqp_url).await {
            if let Ok(channel) = connection.create_channel().await {
                let _ = channel
                    .queue_delete(&self.queue, QueueDeleteOptions::default())
                    .await;
            }
            let _ = connection.close(0, "hookgate-load done").await;
        }
        if let Ok(admin) = stack::postgres(&self.admin_url).await {
            let _ = admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.database
                ))
                .await;
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

async fn limit_trial(
    options: &Options,
    load: &Load,
    binary: &Path,
    ticks: u64,
) -> anyhow::Result<Trial> {
    let secret = stack::random_hex(20);
    let pipeline = LimitPipeline::start(binary, options, &secret).await?;
    let result = limit_measure(&pipeline, load, &secret, ticks).await;
    pipeline.stop().await;
    result
}

async fn limit_measure(
    pipeline: &LimitPipeline,
    load: &Load,
    secret: &str,
    ticks: u64,
) -> anyhow::Result<Trial> {
    // The pipeline's messages carry the webhook body and no id: count them. It answers
    // 2xx only after the broker confirmed, so every 2xx must be one message.
    let connection = consumer::connect(&pipeline.amqp_url).await?;
    let channel = connection.create_channel().await?;
    let mut deliveries = channel
        .basic_consume(
            &pipeline.queue,
            "hookgate-load",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Some(Ok(_)) = deliveries.next().await {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let source = GithubRequests::new(
        "/".to_owned(),
        pipeline.addr.to_string(),
        secret,
        load.body_size,
    );
    let (outcome, before, after) = drive(
        plan(pipeline.addr, load, false),
        source,
        pipeline.child.id(),
        &pipeline.database,
    )
    .await;
    let acked: u64 = outcome
        .statuses
        .iter()
        .filter(|(status, _)| (200..300).contains(*status))
        .map(|(_, n)| n)
        .sum();
    let start = Instant::now();
    let mut last = (received.load(Ordering::Relaxed), Instant::now());
    while received.load(Ordering::Relaxed) < acked
        && last.1.elapsed() < DRAIN_IDLE
        && start.elapsed() < load.drain_limit
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = received.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let missing = acked.saturating_sub(received.load(Ordering::Relaxed));
    let _ = connection.close(0, "hookgate-load done").await;
    Ok(trial(
        &outcome,
        (&before, &after),
        ticks,
        "limit",
        acked,
        missing,
    ))
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts_ignoring_nan() {
        assert_eq!(median(&[0.7, 0.9, 0.8]), 0.8);
        assert!((median(&[0.6, 0.8, f64::NAN, 1.0, 0.9]) - 0.85).abs() < 1e-12);
        assert!(median(&[]).is_nan());
    }
}
