//! Configuration: flags, HOOKGATE_* variables and an optional TOML file (SPEC §2),
//! validated once at start into [`Config`]. Pure: nothing here touches the network.

mod args;
pub mod file;

pub use args::{MigrateArgs, RekeyArgs, ServeArgs};

use crate::crypto::Secret;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Invalid configuration; the message names the setting as both variable and flag.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {setting}: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        reason: reason.into(),
    }
}

/// Where state lives.
#[derive(Debug, Clone)]
pub enum Mode {
    /// PostgreSQL + RabbitMQ, any number of instances.
    Production {
        database_url: Secret,
        amqp_url: Secret,
        exchange_prefix: String,
        queue_type: String,
    },
    /// SQLite + in-process queue under `data_dir`, one instance.
    Embedded { data_dir: PathBuf },
}

pub use crate::telemetry::LogFormat;

/// Parts of the process that can be switched off for scale-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Ingress,
    Api,
    Relay,
    Delivery,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where `/metrics` is served instead of `listen`, if set.
    pub metrics_listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub mode: Mode,
    pub operator_token: Option<Secret>,
    pub master_key: Option<Secret>,
    /// Former master keys: they open, never seal (SPEC §15).
    pub master_keys_retired: Vec<Secret>,
    pub delivery_allow_cidrs: Vec<crate::cidr::Cidr>,
    /// Where SNS signing certificates may be fetched from (and subscriptions confirmed).
    pub sns_certificate_origins: crate::verify::CertificateOrigins,
    pub retry_schedule: Vec<Duration>,
    pub log_format: LogFormat,
    /// Trace export (SPEC §14); `None`: nothing is exported.
    pub otlp: Option<crate::telemetry::OtlpConfig>,
    pub roles: BTreeSet<Role>,
    pub db_pool_size: usize,
    pub shutdown_timeout: Duration,
    /// Connection limits of the HTTP listener (SPEC §16).
    pub edge: crate::http::EdgeLimits,
    /// Proxies whose `X-Forwarded-For` names the client in the access log.
    pub trusted_proxies: Vec<crate::cidr::Cidr>,
    pub relay: crate::relay::RelayConfig,
    pub dispatch: crate::dispatch::DispatchConfig,
    pub ingress: crate::ingress::WriterConfig,
    /// How long ingress events keep their bodies.
    pub payload_retention: Duration,
    /// Group commit of run events (`dispatch::RunEventWriter`).
    pub run_events: crate::group_commit::GroupCommitConfig,
}

fn parse_count(
    value: &str,
    range: std::ops::RangeInclusive<usize>,
    setting: &'static str,
) -> Result<usize, ConfigError> {
    value
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(
                setting,
                format!("must be {} to {}", range.start(), range.end()),
            )
        })
}

fn parse_otlp(args: &ServeArgs) -> Result<Option<crate::telemetry::OtlpConfig>, ConfigError> {
    let sample_ratio = crate::telemetry::parse_ratio(&args.otlp_sample_ratio)
        .map_err(|e| invalid("HOOKGATE_OTLP_SAMPLE_RATIO (--otlp-sample-ratio)", e))?;
    let Some(endpoint) = args
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    else {
        return Ok(None);
    };
    let endpoint = crate::telemetry::parse_endpoint(endpoint)
        .map_err(|e| invalid("HOOKGATE_OTLP_ENDPOINT (--otlp-endpoint)", e))?;
    Ok(Some(crate::telemetry::OtlpConfig {
        endpoint,
        sample_ratio,
    }))
}

/// A duration above zero: a zero timeout would close every connection at once.
fn positive_duration(value: &str, setting: &'static str) -> Result<Duration, ConfigError> {
    let parsed = crate::duration::parse(value).map_err(|e| invalid(setting, e))?;
    if parsed.is_zero() {
        return Err(invalid(setting, "must be above zero"));
    }
    Ok(parsed)
}

fn parse_roles(value: &str) -> Result<BTreeSet<Role>, String> {
    let roles = value
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|role| match role {
            "ingress" => Ok(Role::Ingress),
            "api" => Ok(Role::Api),
            "relay" => Ok(Role::Relay),
            "delivery" => Ok(Role::Delivery),
            other => Err(format!(
                "unknown role `{other}` (ingress, api, relay, delivery)"
            )),
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    if roles.is_empty() {
        return Err("at least one role is needed".into());
    }
    Ok(roles)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.trim().is_empty())
}

fn parse_mode(args: &ServeArgs) -> Result<Mode, ConfigError> {
    match (non_empty(&args.database_url), non_empty(&args.amqp_url)) {
        (None, None) => Ok(Mode::Embedded {
            data_dir: args.data_dir.clone(),
        }),
        (Some(db), Some(amqp)) => {
            if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
                return Err(invalid(
                    "HOOKGATE_DATABASE_URL (--database-url)",
                    "must start with postgres:// or postgresql://",
                ));
            }
            if !(amqp.starts_with("amqp://") || amqp.starts_with("amqps://")) {
                return Err(invalid(
                    "HOOKGATE_AMQP_URL (--amqp-url)",
                    "must start with amqp:// or amqps://",
                ));
            }
            let prefix = &args.amqp_exchange_prefix;
            if prefix.is_empty()
                || !prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(
                    "HOOKGATE_AMQP_EXCHANGE_PREFIX (--amqp-exchange-prefix)",
                    "must be non-empty letters, digits, '-', '_' or '.'",
                ));
            }
            if !matches!(args.amqp_queue_type.as_str(), "quorum" | "classic") {
                return Err(invalid(
                    "HOOKGATE_AMQP_QUEUE_TYPE (--amqp-queue-type)",
                    "must be quorum or classic",
                ));
            }
            Ok(Mode::Production {
                database_url: Secret::new(db),
                amqp_url: Secret::new(amqp),
                exchange_prefix: prefix.clone(),
                queue_type: args.amqp_queue_type.clone(),
            })
        }
        (Some(_), None) => Err(invalid(
            "HOOKGATE_AMQP_URL (--amqp-url)",
            "production mode needs both HOOKGATE_DATABASE_URL and HOOKGATE_AMQP_URL",
        )),
        (None, Some(_)) => Err(invalid(
            "HOOKGATE_DATABASE_URL (--database-url)",
            "production mode needs both HOOKGATE_DATABASE_URL and HOOKGATE_AMQP_URL",
        )),
    }
}

fn parse_payload_retention(value: &str) -> Result<Duration, ConfigError> {
    let setting = "HOOKGATE_PAYLOAD_RETENTION (--payload-retention)";
    let retention = crate::duration::parse(value).map_err(|e| invalid(setting, e))?;
    if retention < crate::ingress::DEDUP_WINDOW {
        return Err(invalid(
            setting,
            "must be at least the 72h de-dup window, so a duplicate can always be read back",
        ));
    }
    Ok(retention)
}

const MASTER_KEY: &str = "HOOKGATE_MASTER_KEY (--master-key)";
const MASTER_KEYS_RETIRED: &str = "HOOKGATE_MASTER_KEYS_RETIRED (--master-keys-retired)";

/// The master key (checked, empty = unset) and the retired ones (comma-separated, each
/// checked; an error names the key by position, never by value).
fn parse_master_keys<'a>(
    current: Option<&'a str>,
    retired: Option<&str>,
) -> Result<(Option<&'a str>, Vec<Secret>), ConfigError> {
    let current = current.filter(|k| !k.is_empty());
    if let Some(key) = current {
        crate::crypto::MasterKey::from_base64(key)
            .map_err(|e| invalid(MASTER_KEY, e.to_string()))?;
    }
    let retired = crate::crypto::parse_key_list(retired.unwrap_or_default())
        .map_err(|e| invalid(MASTER_KEYS_RETIRED, e))?;
    Ok((current, retired))
}

/// Settings of `hookgate rekey`, validated.
#[derive(Debug, Clone)]
pub struct RekeyConfig {
    /// PostgreSQL, or the embedded store's data dir when `None`.
    pub database_url: Option<Secret>,
    pub data_dir: PathBuf,
    /// Required with a database; embedded mode falls back to the data dir's file.
    pub master_key: Option<Secret>,
    pub master_keys_retired: Vec<Secret>,
    pub batch_size: usize,
    /// Stop after this many batches; `None`: run to the end.
    pub max_batches: Option<usize>,
}

impl RekeyConfig {
    pub fn from_args(args: &RekeyArgs) -> Result<Self, ConfigError> {
        let database_url = non_empty(&args.database_url);
        if database_url
            .is_some_and(|db| !(db.starts_with("postgres://") || db.starts_with("postgresql://")))
        {
            return Err(invalid(
                "HOOKGATE_DATABASE_URL (--database-url)",
                "must start with postgres:// or postgresql://",
            ));
        }
        let (master_key, master_keys_retired) = parse_master_keys(
            args.master_key.as_deref(),
            args.master_keys_retired.as_deref(),
        )?;
        if database_url.is_some() && master_key.is_none() {
            return Err(invalid(MASTER_KEY, "required with a database URL"));
        }
        let max_batches = parse_count(&args.max_batches, 0..=usize::MAX, "--max-batches")?;
        Ok(Self {
            database_url: database_url.map(Secret::new),
            data_dir: args.data_dir.clone(),
            master_key: master_key.map(Secret::new),
            master_keys_retired,
            batch_size: parse_count(&args.batch_size, 1..=10_000, "--batch-size")?,
            max_batches: (max_batches > 0).then_some(max_batches),
        })
    }
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let listen = args.listen.parse().map_err(|_| {
            invalid(
                "HOOKGATE_LISTEN (--listen)",
                format!("`{}` is not an address like 127.0.0.1:8080", args.listen),
            )
        })?;
        let metrics_listen = match args.metrics_listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(address) => Some(address.parse().map_err(|_| {
                invalid(
                    "HOOKGATE_METRICS_LISTEN (--metrics-listen)",
                    format!("`{address}` is not an address like 127.0.0.1:9090"),
                )
            })?),
        };
        let public_url = match args.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "HOOKGATE_PUBLIC_URL (--public-url)",
                    "must start with http:// or https://",
                ))
            }
        };
        let mode = parse_mode(args)?;
        let operator_token = args.operator_token.as_deref().filter(|t| !t.is_empty());
        if operator_token.is_some_and(|t| t.len() < 16) {
            return Err(invalid(
                "HOOKGATE_OPERATOR_TOKEN (--operator-token)",
                "must be at least 16 characters",
            ));
        }
        let allow_cidrs = crate::cidr::parse_list(&args.delivery_allow_cidrs)
            .map_err(|e| invalid("HOOKGATE_DELIVERY_ALLOW_CIDRS (--delivery-allow-cidrs)", e))?;
        let retry_schedule = crate::delivery::parse_schedule(&args.retry_schedule)
            .map_err(|e| invalid("HOOKGATE_RETRY_SCHEDULE (--retry-schedule)", e))?;
        let (master_key, master_keys_retired) = parse_master_keys(
            args.master_key.as_deref(),
            args.master_keys_retired.as_deref(),
        )?;
        if matches!(mode, Mode::Production { .. }) {
            if operator_token.is_none() {
                return Err(invalid(
                    "HOOKGATE_OPERATOR_TOKEN (--operator-token)",
                    "required in production mode",
                ));
            }
            if master_key.is_none() {
                return Err(invalid(
                    MASTER_KEY,
                    "required in production mode (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)",
                ));
            }
        }
        Ok(Self {
            listen,
            metrics_listen,
            public_url,
            mode,
            operator_token: operator_token.map(Secret::new),
            master_key: master_key.map(Secret::new),
            master_keys_retired,
            delivery_allow_cidrs: crate::cidr::parse_list(&args.delivery_allow_cidrs).map_err(|e| {
                invalid("HOOKGATE_DELIVERY_ALLOW_CIDRS (--delivery-allow-cidrs)", e)
            })?,
            sns_certificate_origins: crate::verify::CertificateOrigins::parse(
                &args.sns_certificate_origins,
            )
            .map_err(|e| {
                invalid(
                    "HOOKGATE_SNS_CERTIFICATE_ORIGINS (--sns-certificate-origins)",
                    e,
                )
            })?,
            retry_schedule: crate::delivery::parse_schedule(&args.retry_schedule)
                .map_err(|e| invalid("HOOKGATE_RETRY_SCHEDULE (--retry-schedule)", e))?,
            log_format: match args.log_format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "HOOKGATE_LOG_FORMAT (--log-format)",
                        format!("`{other}` is neither text nor json"),
                    ))
                }
            },
            otlp: parse_otlp(args)?,
            roles: parse_roles(&args.roles).map_err(|e| invalid("HOOKGATE_ROLES (--roles)", e))?,
            db_pool_size: args
                .db_pool_size
                .parse()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "HOOKGATE_DB_POOL_SIZE (--db-pool-size)",
                        "must be 1 to 1024",
                    )
                })?,
            shutdown_timeout: crate::duration::parse(&args.shutdown_timeout)
                .map_err(|e| invalid("HOOKGATE_SHUTDOWN_TIMEOUT (--shutdown-timeout)", e))?,
            edge: crate::http::EdgeLimits {
                header_read_timeout: positive_duration(
                    &args.header_read_timeout,
                    "HOOKGATE_HEADER_READ_TIMEOUT (--header-read-timeout)",
                )?,
                body_read_timeout: positive_duration(
                    &args.body_read_timeout,
                    "HOOKGATE_BODY_READ_TIMEOUT (--body-read-timeout)",
                )?,
                keep_alive_timeout: positive_duration(
                    &args.keep_alive_timeout,
                    "HOOKGATE_KEEP_ALIVE_TIMEOUT (--keep-alive-timeout)",
                )?,
                max_connections: parse_count(
                    &args.max_connections,
                    1..=1_000_000,
                    "HOOKGATE_MAX_CONNECTIONS (--max-connections)",
                )?,
            },
            trusted_proxies: crate::cidr::parse_list(&args.trusted_proxies)
                .map_err(|e| invalid("HOOKGATE_TRUSTED_PROXIES (--trusted-proxies)", e))?,
            relay: crate::relay::RelayConfig {
                lease: crate::duration::parse(&args.relay_lease)
                    .ok()
                    .filter(|d| *d >= Duration::from_secs(1))
                    .ok_or_else(|| {
                        invalid(
                            "HOOKGATE_RELAY_LEASE (--relay-lease)",
                            "must be a duration of at least 1s",
                        )
                    })?,
                batch_size: parse_count(
                    &args.relay_batch_size,
                    1..=10_000,
                    "HOOKGATE_RELAY_BATCH_SIZE (--relay-batch-size)",
                )?,
                workers: parse_count(
                    &args.relay_workers,
                    1..=64,
                    "HOOKGATE_RELAY_WORKERS (--relay-workers)",
                )?,
                ..crate::relay::RelayConfig::default()
            },
            payload_retention: parse_payload_retention(&args.payload_retention)?,
            ingress: crate::ingress::WriterConfig {
                queue: parse_count(
                    &args.ingress_queue,
                    1..=1_000_000,
                    "HOOKGATE_INGRESS_QUEUE (--ingress-queue)",
                )?,
                max_batch: parse_count(
                    &args.ingress_batch,
                    1..=1024,
                    "HOOKGATE_INGRESS_BATCH (--ingress-batch)",
                )?,
                writers: parse_count(
                    &args.ingress_writers,
                    1..=64,
                    "HOOKGATE_INGRESS_WRITERS (--ingress-writers)",
                )?,
                max_wait: crate::duration::parse(&args.ingress_max_wait)
                    .map_err(|e| invalid("HOOKGATE_INGRESS_MAX_WAIT (--ingress-max-wait)", e))?,
                linger: crate::duration::parse(&args.ingress_linger)
                    .map_err(|e| invalid("HOOKGATE_INGRESS_LINGER (--ingress-linger)", e))?,
            },
            run_events: crate::group_commit::GroupCommitConfig {
                queue: parse_count(
                    &args.run_event_queue,
                    1..=1_000_000,
                    "HOOKGATE_RUN_EVENT_QUEUE (--run-event-queue)",
                )?,
                max_batch: parse_count(
                    &args.run_event_batch,
                    1..=1024,
                    "HOOKGATE_RUN_EVENT_BATCH (--run-event-batch)",
                )?,
                writers: parse_count(
                    &args.run_event_writers,
                    1..=64,
                    "HOOKGATE_RUN_EVENT_WRITERS (--run-event-writers)",
                )?,
            },
            dispatch: crate::dispatch::DispatchConfig {
                disable_after: crate::duration::parse(&args.endpoint_disable_after).map_err(|e| {
                    invalid(
                        "HOOKGATE_ENDPOINT_DISABLE_AFTER (--endpoint-disable-after)",
                        e,
                    )
                })?,
                attempt_body_retention: crate::duration::parse(&args.attempt_body_retention).map_err(
                    |e| {
                        invalid(
                            "HOOKGATE_ATTEMPT_BODY_RETENTION (--attempt-body-retention)",
                            e,
                        )
                    },
                )?,
                default_schedule: retry_schedule,
                allow_cidrs,
                batch_size: parse_count(
                    &args.delivery_batch_size,
                    1..=10_000,
                    "HOOKGATE_DELIVERY_BATCH_SIZE (--delivery-batch-size)",
                )?,
                per_endpoint_concurrency: parse_count(
                    &args.delivery_concurrency_per_endpoint,
                    1..=10_000,
                    "HOOKGATE_DELIVERY_CONCURRENCY_PER_ENDPOINT (--delivery-concurrency-per-endpoint)",
                )?,
                max_in_flight: parse_count(
                    &args.delivery_max_in_flight,
                    1..=100_000,
                    "HOOKGATE_DELIVERY_MAX_IN_FLIGHT (--delivery-max-in-flight)",
                )?,
                ..crate::dispatch::DispatchConfig::default()
            },
        })
    }
}

#[cfg(test)]
mod tests;
