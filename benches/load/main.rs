//! hookgate-load: the load tool of SPEC §10. It starts the real `hookgate` binary (production
//! mode on a fresh PostgreSQL database and a unique RabbitMQ exchange prefix, or embedded
//! mode), sets up what the run needs through the REST API, drives it, checks that what
//! was acknowledged arrived, and prints one figure per line. See BENCHMARKS.md.
//!
//! ```text
//! cargo build --release --bin hookgate --bin hookgate-load
//! target/release/hookgate-load ingress --connections 64 --duration 20s
//! target/release/hookgate-load ingress --connections 64 --duration 20s --rate 5000
//! target/release/hookgate-load ingress --connections 64 --duration 20s --otlp-sink
//! target/release/hookgate-load ingress --connections 256 --duration 12s \
//!     --versus /tmp/limit-target/release/limit-pipeline
//! target/release/hookgate-load delivery --events 2000 --endpoints 2
//! target/release/hookgate-load soak --rate 2000 --duration 10m
//! target/release/hookgate-load stream --readers 1000 --runs 1000 --rate 2000 --duration 30s
//! target/release/hookgate-load readpath --events 2000000 --runs 1000000 --attempts 5000000
//! target/release/hookgate-load cluster --connections 32 --duration 30s --kill-after 12s
//! ```

// The tool shares the machine with what it measures: every cycle its allocator saves is
// one the server under test gets (glibc malloc was ~10% of its samples).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bare;
mod cluster;
mod consumer;
mod delivery;
mod driver;
mod histogram;
mod ingress;
mod otlp_sink;
mod procfs;
mod readpath;
mod report;
mod sampler;
mod servers;
mod stack;
mod stream;
mod versus;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use consumer::QueueType;
use driver::Pace;

#[derive(Parser)]
#[command(name = "hookgate-load", about = "Load tool for hookgate (SPEC §10)")]
struct Cli {
    /// The hookgate binary. Default: `hookgate` next to this tool, else target/release/hookgate.
    #[arg(long, global = true)]
    hookgate: Option<PathBuf>,
    /// Run hookgate in embedded mode (SQLite + in-process queue) instead of production mode.
    #[arg(long, global = true)]
    embedded: bool,
    /// PostgreSQL URL with rights to create and drop databases.
    #[arg(
        long,
        global = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_admin_url: String,
    #[arg(
        long,
        global = true,
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Extra flag for `hookgate serve` (repeatable), e.g. --serve-arg=--db-pool-size=32.
    #[arg(long = "serve-arg", global = true, allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// Keep the work dir (hookgate's log; embedded data) instead of deleting it.
    #[arg(long, global = true)]
    keep: bool,
    /// Export hookgate's traces (`--otlp-endpoint`) to a local sink that discards them,
    /// to measure the cost of trace export; prints what the sink received.
    #[arg(long, global = true)]
    otlp_sink: bool,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Signed GitHub webhooks at max or fixed rate, checked on the exchange, then the
    /// same load against a bare hyper server for the ratio.
    Ingress(IngressArgs),
    /// Ingress at a fixed rate for a long time, printing memory samples as it goes.
    Soak(SoakArgs),
    /// Run events fanned out to K endpoints on a verifying local receiver.
    Delivery(DeliveryArgs),
    /// SSE readers of run timelines while run events flow: memory per idle reader and
    /// publish → reader latency.
    Stream(StreamArgs),
    /// Fill the database (set-based SQL) and time the list, filter and lineage reads
    /// over HTTP, with the plan of each (SPEC §10's read-path target).
    Readpath(ReadpathArgs),
    /// Three instances on one backend (two ingress,api,relay and one delivery); one
    /// ingress instance SIGKILLed under load; every acked run must still be published.
    Cluster(ClusterArgs),
}

#[derive(Args)]
struct ClusterArgs {
    /// Connections per ingress instance.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long, default_value = "30s", value_parser = duration)]
    duration: Duration,
    /// When the first ingress instance is SIGKILLed, from the start of the load.
    #[arg(long, default_value = "12s", value_parser = duration)]
    kill_after: Duration,
    /// Fixed total rate in requests/s, split over the two ingress instances.
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,
    #[arg(long, value_enum, default_value_t = QueueType::Quorum)]
    queue_type: QueueType,
    #[arg(long, default_value = "120s", value_parser = duration)]
    drain_limit: Duration,
}

#[derive(Args)]
struct Common {
    /// Client connections (each sends one request at a time).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Body size in bytes (a padded GitHub push payload).
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Per-request timeout (GitHub gives up after 10 s).
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,
    /// Queue the runs consumer binds to `<prefix>.runs`.
    #[arg(long, value_enum, default_value_t = QueueType::Quorum)]
    queue_type: QueueType,
    /// How long to wait after the load for acked runs to reach the exchange.
    #[arg(long, default_value = "120s", value_parser = duration)]
    drain_limit: Duration,
    /// Load sent before the measured `--duration` and left out of its rates and
    /// latencies (as wrk2's calibration period): a freshly started stack's first seconds
    /// (connections, pools, caches, first pages of empty tables). Its requests still
    /// count in the status totals and the acked-runs check.
    #[arg(long, default_value = "5s", value_parser = duration)]
    warmup: Duration,
}

#[derive(Args)]
struct IngressArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "30s", value_parser = duration)]
    duration: Duration,
    /// Fixed rate in requests/s (open loop); without it, as fast as answers come.
    #[arg(long)]
    rate: Option<f64>,
    /// Skip the bare-server baseline.
    #[arg(long)]
    no_bare: bool,
    /// Instead of one hookgate run: alternate hookgate with this built limit-pipeline
    /// binary (../shared/perf/limit-pipeline) on the same load and print the ratios.
    #[arg(long, value_name = "LIMIT_PIPELINE")]
    versus: Option<PathBuf>,
    /// Pairs of trials with --versus.
    #[arg(long, default_value_t = 3, requires = "versus")]
    pairs: usize,
}

#[derive(Args)]
struct SoakArgs {
    #[command(flatten)]
    common: Common,
    /// Fixed rate in requests/s.
    #[arg(long)]
    rate: f64,
    #[arg(long, default_value = "10m", value_parser = duration)]
    duration: Duration,
    /// How often memory is sampled and printed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    sample_every: Duration,
}

#[derive(Args)]
struct DeliveryArgs {
    /// Run events to publish.
    #[arg(long, default_value_t = 2000)]
    events: u64,
    /// Endpoints, each receiving every event.
    #[arg(long, default_value_t = 2)]
    endpoints: usize,
    /// Events published concurrently.
    #[arg(long, default_value_t = 16)]
    publishers: usize,
    /// Give up waiting when no delivery arrived for this long.
    #[arg(long, default_value = "30s", value_parser = duration)]
    idle: Duration,
}

#[derive(Args)]
struct StreamArgs {
    /// Concurrent Server-Sent Events readers.
    #[arg(long, default_value_t = 1000)]
    readers: usize,
    /// Runs the readers spread over (reader k reads run k mod runs).
    #[arg(long, default_value_t = 1000)]
    runs: usize,
    /// Run events per second, round-robin over the runs.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    #[arg(long, default_value = "30s", value_parser = duration)]
    duration: Duration,
    /// How long the connected readers idle before their memory is measured.
    #[arg(long, default_value = "10s", value_parser = duration)]
    settle: Duration,
    /// Give up waiting for the last events when none arrived for this long.
    #[arg(long, default_value = "15s", value_parser = duration)]
    idle: Duration,
}

#[derive(Args)]
struct ReadpathArgs {
    /// Ingress events (SPEC §10: 2,000,000).
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    /// Runs, linked from the newest accepted events (SPEC §10: 1,000,000).
    #[arg(long, default_value_t = 100_000)]
    runs: u64,
    /// Delivery attempts, 1 to 5 per delivery (SPEC §10: 5,000,000).
    #[arg(long, default_value_t = 500_000)]
    attempts: u64,
    /// Audit log entries.
    #[arg(long, default_value_t = 200_000)]
    audit: u64,
    /// Days the timestamps are spread over.
    #[arg(long, default_value_t = 10)]
    days: u64,
    /// Timed requests per read shape.
    #[arg(long, default_value_t = 200)]
    requests: usize,
}

fn duration(value: &str) -> Result<Duration, String> {
    hookgate::duration::parse(value)
}

fn load(common: &Common, duration: Duration, pace: Pace) -> anyhow::Result<ingress::Load> {
    if common.connections == 0 {
        anyhow::bail!("--connections must be at least 1");
    }
    if let Pace::Rate(rate) = pace {
        if !(rate.is_finite() && rate > 0.0) {
            anyhow::bail!("--rate must be a positive number");
        }
    }
    Ok(ingress::Load {
        connections: common.connections,
        duration,
        warmup: common.warmup,
        pace,
        body_size: common.body_size,
        timeout: common.timeout,
        sample_every: Duration::from_secs(1),
        queue_type: common.queue_type,
        drain_limit: common.drain_limit,
        bare: true,
        live: false,
    })
}

fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let sink = cli.otlp_sink.then(otlp_sink::OtlpSink::start).transpose()?;
    if let Some(sink) = &sink {
        cli.serve_args.push(sink.serve_arg());
    }
    let options = stack::Options {
        hookgate: cli.hookgate.unwrap_or_else(stack::default_binary),
        embedded: cli.embedded,
        postgres_admin_url: cli.postgres_admin_url,
        amqp_url: cli.amqp_url,
        serve_args: cli.serve_args,
        keep: cli.keep,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        print_machine(&options);
        if !options.embedded {
            servers::print(&options.postgres_admin_url, &options.amqp_url).await;
        }
        match cli.command {
            Mode::Ingress(args) => {
                let pace = args.rate.map_or(Pace::Max, Pace::Rate);
                let mut load = load(&args.common, args.duration, pace)?;
                load.bare = !args.no_bare;
                match args.versus {
                    Some(binary) => {
                        let versus = versus::Versus {
                            binary,
                            pairs: args.pairs.max(1),
                        };
                        versus::run(&options, &load, &versus).await
                    }
                    None => ingress::run(&options, &load).await,
                }
            }
            Mode::Soak(args) => {
                let mut load = load(&args.common, args.duration, Pace::Rate(args.rate))?;
                load.bare = false;
                load.live = true;
                load.sample_every = args.sample_every;
                ingress::run(&options, &load).await
            }
            Mode::Delivery(args) => {
                let args = delivery::Args {
                    events: args.events,
                    endpoints: args.endpoints.max(1),
                    publishers: args.publishers,
                    idle: args.idle,
                };
                delivery::run(&options, &args).await
            }
            Mode::Stream(args) => {
                if args.readers == 0 || args.runs == 0 {
                    anyhow::bail!("--readers and --runs must be at least 1");
                }
                if !(args.rate.is_finite() && args.rate > 0.0) {
                    anyhow::bail!("--rate must be a positive number");
                }
                let args = stream::Args {
                    readers: args.readers,
                    runs: args.runs,
                    rate: args.rate,
                    duration: args.duration,
                    settle: args.settle,
                    idle: args.idle,
                };
                stream::run(&options, &args).await
            }
            Mode::Readpath(args) => {
                let args = readpath::Args {
                    events: args.events,
                    runs: args.runs,
                    attempts: args.attempts,
                    audit: args.audit,
                    days: args.days,
                    requests: args.requests,
                };
                readpath::run(&options, &args).await
            }
            Mode::Cluster(args) => {
                if args.connections == 0 {
                    anyhow::bail!("--connections must be at least 1");
                }
                let args = cluster::Args {
                    connections: args.connections,
                    duration: args.duration,
                    kill_after: args.kill_after,
                    rate: args.rate,
                    body_size: args.body_size,
                    timeout: args.timeout,
                    queue_type: args.queue_type,
                    drain_limit: args.drain_limit,
                };
                cluster::run(&options, &args).await
            }
        }
    })?;
    if let Some(sink) = &sink {
        sink.print();
    }
    Ok(())
}

/// The machine the figures come from.
fn print_machine(options: &stack::Options) {
    report::section("machine");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    report::line("cpu", format!("{cores} × {cpu}"));
    report::line(
        "memory",
        format!("{:.1} GiB", memory as f64 / 1024.0 / 1024.0),
    );
    report::line(
        "load average before the run",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    report::line("hookgate binary", options.hookgate.display());
}
