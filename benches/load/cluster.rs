//! `cluster`: three instances on one PostgreSQL database and one set of exchanges, as
//! SPEC §4's scale-out runs them (`--roles`): two `ingress,api,relay` instances share
//! the webhooks, one `delivery` instance. Midway one ingress instance is SIGKILLed
//! under load; every run it acknowledged before dying must still reach the runs
//! exchange (its outbox claims expire and the other relay publishes them). The CPU of
//! each tier per acknowledged webhook is the capacity model's input (docs/operations.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::consumer::{QueueType, RunsConsumer};
use crate::driver::{self, Outcome, Pace, Plan, Progress};
use crate::ingress::GithubRequests;
use crate::procfs;
use crate::report::{self, line, section};
use crate::stack::{self, Backend, Options, Stack};

pub struct Args {
    /// Connections per ingress instance.
    pub connections: usize,
    pub duration: Duration,
    /// When the first ingress instance is killed, from the start of the load.
    pub kill_after: Duration,
    pub rate: Option<f64>,
    pub body_size: usize,
    pub timeout: Duration,
    pub queue_type: QueueType,
    pub drain_limit: Duration,
}

pub async fn run(options: &Options, args: &Args) -> anyhow::Result<()> {
    if options.embedded {
        anyhow::bail!("cluster runs production mode only: one embedded data dir has one owner");
    }
    let mut first_options = options.clone();
    first_options
        .serve_args
        .push("--roles=ingress,api,relay".to_owned());
    let stack = Stack::start(&first_options).await?;
    let result = measure(&stack, args).await;
    let stopped = stack.stop().await;
    result.and(stopped)
}

async fn measure(stack: &Stack, args: &Args) -> anyhow::Result<()> {
    let mut second = stack.join("second", "ingress,api,relay").await?;
    let mut deliverer = stack.join("delivery", "delivery").await?;
    let secret = stack::random_hex(20);
    let source_id = stack.github_source(&secret).await?;
    let Backend::Production {
        amqp_url, prefix, ..
    } = &stack.backend
    else {
        anyhow::bail!("cluster runs production mode only");
    };
    let pace = args.rate.map_or(Pace::Max, |rate| Pace::Rate(rate / 2.0));
    let expected = args.rate.unwrap_or(12_000.0) * args.duration.as_secs_f64() * 1.2;
    let consumer = RunsConsumer::bind(amqp_url, prefix, args.queue_type, expected as usize).await?;
    let path = format!("/v1/ingress/{source_id}");

    section("cluster: three instances on one database and one runs exchange");
    line(
        "first (killed)",
        format!("pid {} ingress,api,relay {}", stack.pid, stack.addr),
    );
    line(
        "second",
        format!("pid {} ingress,api,relay {}", second.pid, second.addr),
    );
    line(
        "delivery",
        format!("pid {} delivery {}", deliverer.pid, deliverer.addr),
    );
    line("connections per ingress instance", args.connections);
    line(
        "pace",
        args.rate.map_or("max rate (closed loop)".to_owned(), |r| {
            format!("{r:.0}/s in all")
        }),
    );
    line(
        "first instance SIGKILLed after",
        format!("{:?}", args.kill_after),
    );

    let plan = |addr| Plan {
        addr,
        connections: args.connections,
        duration: args.duration,
        warmup: Duration::ZERO,
        pace,
        timeout: args.timeout,
        collect_run_ids: true,
    };
    let requests = |addr: std::net::SocketAddr| {
        GithubRequests::new(path.clone(), addr.to_string(), &secret, args.body_size)
    };
    let pids = [stack.pid, second.pid, deliverer.pid];
    let ticks = procfs::clock_ticks();
    let cpu_before = procfs::cpu_snapshot_of(&pids, stack.database());
    let started = Instant::now();
    let first_pid = stack.pid;
    let kill_after = args.kill_after;
    let killer = async move {
        tokio::time::sleep(kill_after).await;
        // The stack's own child is killed by pid: `Stack::stop` later finds it gone.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &first_pid.to_string()])
            .status();
        started.elapsed()
    };
    let (first_outcome, second_outcome, killed_at) = tokio::join!(
        driver::run(
            plan(stack.addr),
            requests(stack.addr),
            Arc::new(Progress::default())
        ),
        driver::run(
            plan(second.addr),
            requests(second.addr),
            Arc::new(Progress::default())
        ),
        killer,
    );
    let cpu_after = procfs::cpu_snapshot_of(&pids, stack.database());
    line("killed at", format!("{:.1} s", killed_at.as_secs_f64()));

    section("first instance (killed midway)");
    report::outcome(&first_outcome);
    section("second instance");
    report::outcome(&second_outcome);

    let acked: Vec<String> = first_outcome
        .run_ids
        .iter()
        .chain(&second_outcome.run_ids)
        .cloned()
        .collect();
    let answered = acked.len() as u64;
    section("acked runs vs published runs");
    let check = consumer
        .check(&acked, Duration::from_secs(15), args.drain_limit)
        .await;
    line(
        "acked (2xx) by the killed instance",
        first_outcome.run_ids.len(),
    );
    line(
        "acked (2xx) by the second instance",
        second_outcome.run_ids.len(),
    );
    line("published (acked runs seen)", check.published);
    line("missing", check.missing);
    line("duplicates (at-least-once)", check.duplicates);
    line(
        "drain after load",
        format!("{:.1} s", check.drain.as_secs_f64()),
    );

    section("cpu per acked webhook (the capacity model's input)");
    let wall = longest(&first_outcome, &second_outcome);
    line(
        "cpu during load (cores)",
        procfs::cpu_line(&cpu_before, &cpu_after, wall, ticks),
    );
    line(
        "per acked webhook",
        procfs::cpu_per_unit(
            &cpu_before,
            &cpu_after,
            answered,
            ticks,
            "hookgate (3 instances)",
        ),
    );
    for (name, status) in [
        ("second", second.exit_status()),
        ("delivery", deliverer.exit_status()),
    ] {
        line(
            &format!("{name} instance"),
            status.map_or("alive".to_owned(), |s| {
                format!("EXITED during the run: {s}")
            }),
        );
    }
    consumer.close().await;
    second.stop().await;
    deliverer.stop().await;
    if check.missing > 0 {
        anyhow::bail!(
            "{} acknowledged runs never reached the exchange",
            check.missing
        );
    }
    Ok(())
}

fn longest(a: &Outcome, b: &Outcome) -> Duration {
    a.elapsed.max(b.elapsed)
}
