use clap::Args;
use std::path::PathBuf;

/// Settings of `hookgate serve`. Every one is a flag and a HOOKGATE_* variable, and may
/// also come from the TOML file given by --config (flag > variable > file > default).
/// Values stay text here; [`super::Config::from_args`] validates them and names the
/// setting in any error.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "HOOKGATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address the HTTP server listens on.
    #[arg(long, env = "HOOKGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Serve GET /metrics on this address instead (e.g. 127.0.0.1:9090), so the scraper
    /// need not reach the public listener; there /metrics then answers 404.
    #[arg(long, env = "HOOKGATE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Base URL used in returned ingress URLs. Default: http://<listen address>.
    #[arg(long, env = "HOOKGATE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Embedded mode's directory: SQLite store, generated operator token and master key.
    #[arg(long, env = "HOOKGATE_DATA_DIR", default_value = "./hookgate-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL. With --amqp-url it selects production mode; neither means embedded mode.
    #[arg(long, env = "HOOKGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// RabbitMQ URL (amqp:// or amqps://). Required together with --database-url.
    #[arg(long, env = "HOOKGATE_AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<String>,

    /// Prefix of the exchanges hookgate declares: <prefix>.runs and <prefix>.run-events.
    #[arg(
        long,
        env = "HOOKGATE_AMQP_EXCHANGE_PREFIX",
        default_value = "hookgate"
    )]
    pub amqp_exchange_prefix: String,

    /// Type of hookgate's run-events queue: quorum (replicated) or classic.
    #[arg(long, env = "HOOKGATE_AMQP_QUEUE_TYPE", default_value = "quorum")]
    pub amqp_queue_type: String,

    /// Bearer token of the operator (mints API keys, creates orgs). Required in
    /// production mode; generated into the data dir in embedded mode.
    #[arg(long, env = "HOOKGATE_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,

    /// Base64 of 32 bytes; encrypts secrets at rest (AES-256-GCM). Required in
    /// production mode; generated into the data dir in embedded mode.
    #[arg(long, env = "HOOKGATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Comma-separated former master keys (same encoding): they only open secrets sealed
    /// before a rotation, never seal; `hookgate rekey` re-seals those under
    /// --master-key. Embedded mode reads the data dir's `master-keys-retired` file when
    /// this is unset.
    #[arg(long, env = "HOOKGATE_MASTER_KEYS_RETIRED", hide_env_values = true)]
    pub master_keys_retired: Option<String>,

    /// Comma-separated CIDRs that outbound deliveries may reach despite the SSRF guard.
    #[arg(long, env = "HOOKGATE_DELIVERY_ALLOW_CIDRS", default_value = "")]
    pub delivery_allow_cidrs: String,

    /// Comma-separated origins SNS signing certificates are fetched from, and SNS
    /// subscriptions confirmed at (`auto_confirm`); `*` stands for one DNS label. An
    /// `http://` origin is plain HTTP to that origin only (a test server).
    #[arg(
        long,
        env = "HOOKGATE_SNS_CERTIFICATE_ORIGINS",
        default_value = crate::verify::DEFAULT_CERTIFICATE_ORIGINS
    )]
    pub sns_certificate_origins: String,

    /// Default delivery retry delays (each ±20% jitter).
    #[arg(
        long,
        env = "HOOKGATE_RETRY_SCHEDULE",
        default_value = "0s,5s,5m,30m,2h,5h,10h,10h"
    )]
    pub retry_schedule: String,

    /// An endpoint whose every attempt failed for this long is disabled (and
    /// `endpoint.disabled` is sent to the org's other endpoints).
    #[arg(long, env = "HOOKGATE_ENDPOINT_DISABLE_AFTER", default_value = "5d")]
    pub endpoint_disable_after: String,

    /// How long ingress events keep their bodies (then listed with `body_expired`); at
    /// least the 72 h de-dup window.
    #[arg(long, env = "HOOKGATE_PAYLOAD_RETENTION", default_value = "7d")]
    pub payload_retention: String,

    /// How long delivery attempts keep their response bodies (the janitor drops older ones).
    #[arg(long, env = "HOOKGATE_ATTEMPT_BODY_RETENTION", default_value = "30d")]
    pub attempt_body_retention: String,

    /// Most due deliveries one claim takes.
    #[arg(long, env = "HOOKGATE_DELIVERY_BATCH_SIZE", default_value = "256")]
    pub delivery_batch_size: String,

    /// Attempts in flight per endpoint; a claim takes no more of an endpoint's
    /// deliveries than it has room for.
    #[arg(
        long,
        env = "HOOKGATE_DELIVERY_CONCURRENCY_PER_ENDPOINT",
        default_value = "64"
    )]
    pub delivery_concurrency_per_endpoint: String,

    /// Attempts in flight on this instance, all endpoints together (bounds memory).
    #[arg(long, env = "HOOKGATE_DELIVERY_MAX_IN_FLIGHT", default_value = "1024")]
    pub delivery_max_in_flight: String,

    /// Log output: text or json.
    #[arg(long, env = "HOOKGATE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// OpenTelemetry collector (OTLP over HTTP, e.g. http://collector:4318) to export
    /// traces to; unset: no trace export.
    #[arg(long, env = "HOOKGATE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Share of new traces exported (0 to 1); a sender's sampled flag is followed.
    #[arg(long, env = "HOOKGATE_OTLP_SAMPLE_RATIO", default_value = "1.0")]
    pub otlp_sample_ratio: String,

    /// Roles this instance runs (comma-separated): ingress, api, relay, delivery.
    #[arg(
        long,
        env = "HOOKGATE_ROLES",
        default_value = "ingress,api,relay,delivery"
    )]
    pub roles: String,

    /// Inbound events waiting for a group commit beyond this are refused at once with
    /// 503 + Retry-After (backpressure instead of unbounded memory).
    #[arg(long, env = "HOOKGATE_INGRESS_QUEUE", default_value = "4096")]
    pub ingress_queue: String,

    /// While inbound events wait longer than this for a group commit, new ones are
    /// refused at once with 503 + Retry-After (fast answers beyond capacity).
    #[arg(long, env = "HOOKGATE_INGRESS_MAX_WAIT", default_value = "100ms")]
    pub ingress_max_wait: String,

    /// Most inbound events committed in one transaction.
    #[arg(long, env = "HOOKGATE_INGRESS_BATCH", default_value = "64")]
    pub ingress_batch: String,

    /// Concurrent ingress group-commit writers (each holds one database connection).
    /// Two keep one batch filling while the other commits; more only make the
    /// batches smaller, and PostgreSQL's cost is per statement.
    #[arg(long, env = "HOOKGATE_INGRESS_WRITERS", default_value = "2")]
    pub ingress_writers: String,

    /// A writer that finds a small batch (under a quarter of --ingress-batch) waits this
    /// long for more events before it commits ("0ms": never). Fewer, fuller commits cost
    /// PostgreSQL ~20 % less per event at 5,000/s, for at most this much more latency.
    #[arg(long, env = "HOOKGATE_INGRESS_LINGER", default_value = "1ms")]
    pub ingress_linger: String,

    /// Run events (HTTP or RabbitMQ) waiting for a group commit beyond this: HTTP
    /// publishers are refused at once with 503 + Retry-After, the RabbitMQ consumer waits.
    #[arg(long, env = "HOOKGATE_RUN_EVENT_QUEUE", default_value = "4096")]
    pub run_event_queue: String,

    /// Most run events recorded (and fanned out) in one transaction.
    #[arg(long, env = "HOOKGATE_RUN_EVENT_BATCH", default_value = "128")]
    pub run_event_batch: String,

    /// Concurrent group-commit writers for run events over HTTP (each holds one database
    /// connection). RabbitMQ's run events have one writer of their own, so they commit
    /// in the order the broker delivered them.
    #[arg(long, env = "HOOKGATE_RUN_EVENT_WRITERS", default_value = "2")]
    pub run_event_writers: String,

    /// How long the outbox relay's claim on a batch protects it from other instances;
    /// after a crash, its runs are published by another relay once this passes.
    #[arg(long, env = "HOOKGATE_RELAY_LEASE", default_value = "30s")]
    pub relay_lease: String,

    /// Runs per relay round (claim, publish with confirms in flight, mark).
    #[arg(long, env = "HOOKGATE_RELAY_BATCH_SIZE", default_value = "512")]
    pub relay_batch_size: String,

    /// Concurrent relay workers of this instance.
    #[arg(long, env = "HOOKGATE_RELAY_WORKERS", default_value = "4")]
    pub relay_workers: String,

    /// Maximum PostgreSQL connections of this instance.
    #[arg(long, env = "HOOKGATE_DB_POOL_SIZE", default_value = "16")]
    pub db_pool_size: String,

    /// How long shutdown waits for in-flight requests after SIGTERM/SIGINT.
    #[arg(long, env = "HOOKGATE_SHUTDOWN_TIMEOUT", default_value = "30s")]
    pub shutdown_timeout: String,

    /// Longest a client may take to send a request's headers, from its first byte.
    #[arg(long, env = "HOOKGATE_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: String,

    /// Longest a client may take to send a request's body, from the end of its headers
    /// (408 after it).
    #[arg(long, env = "HOOKGATE_BODY_READ_TIMEOUT", default_value = "30s")]
    pub body_read_timeout: String,

    /// How long a kept-alive connection may stay idle between requests. Above a load
    /// balancer, keep it longer than the balancer's own idle timeout.
    #[arg(long, env = "HOOKGATE_KEEP_ALIVE_TIMEOUT", default_value = "75s")]
    pub keep_alive_timeout: String,

    /// Most concurrent client connections; beyond them a connection is answered 503 at
    /// once and closed.
    #[arg(long, env = "HOOKGATE_MAX_CONNECTIONS", default_value = "4096")]
    pub max_connections: String,

    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed for
    /// the access log's client address (empty: the peer address is the client).
    #[arg(long, env = "HOOKGATE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
}

/// Settings of `hookgate migrate`.
#[derive(Args, Debug, Clone)]
pub struct MigrateArgs {
    /// TOML file with settings (same keys as for serve; others are ignored).
    #[arg(long, env = "HOOKGATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// PostgreSQL URL to migrate. Without it, the embedded store in --data-dir is migrated.
    #[arg(long, env = "HOOKGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Embedded mode's directory.
    #[arg(long, env = "HOOKGATE_DATA_DIR", default_value = "./hookgate-data")]
    pub data_dir: PathBuf,
}

/// Settings of `hookgate rekey`: the store and master keys as for serve.
#[derive(Args, Debug, Clone)]
pub struct RekeyArgs {
    /// TOML file with settings (same keys as for serve; others are ignored).
    #[arg(long, env = "HOOKGATE_CONFIG")]
    pub config: Option<PathBuf>,

    /// PostgreSQL URL. Without it, the embedded store in --data-dir is re-keyed (while
    /// no hookgate serves it; a serving one does it with POST /v1/admin/rekey).
    #[arg(long, env = "HOOKGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Embedded mode's directory.
    #[arg(long, env = "HOOKGATE_DATA_DIR", default_value = "./hookgate-data")]
    pub data_dir: PathBuf,

    /// The master key every secret is re-sealed under. Required with --database-url;
    /// embedded mode reads the data dir's `master-key` file when unset.
    #[arg(long, env = "HOOKGATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Comma-separated former master keys the secrets may still be sealed under.
    #[arg(long, env = "HOOKGATE_MASTER_KEYS_RETIRED", hide_env_values = true)]
    pub master_keys_retired: Option<String>,

    /// Secrets re-sealed per transaction.
    #[arg(long, default_value = "500")]
    pub batch_size: String,

    /// Stop after this many batches (0: none); running again goes on where it stopped.
    #[arg(long, default_value = "0")]
    pub max_batches: String,
}
