use super::*;
use crate::cli::{Cli, Command};
use clap::Parser;

fn serve_args(flags: &[&str]) -> ServeArgs {
    let argv = ["hookgate", "serve"].iter().chain(flags);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Serve(args) => args,
        _ => unreachable!(),
    }
}

fn error_setting(flags: &[&str]) -> &'static str {
    Config::from_args(&serve_args(flags)).unwrap_err().setting
}

const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn defaults_select_embedded_mode_on_localhost_8080() {
    let config = Config::from_args(&serve_args(&[])).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert!(matches!(config.mode, Mode::Embedded { .. }));
    assert_eq!(config.retry_schedule.len(), 8);
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!(config.roles.len(), 4);
}

#[test]
fn both_urls_with_credentials_select_production_mode() {
    let config = Config::from_args(&serve_args(&[
        "--database-url=postgres://localhost/db",
        "--amqp-url=amqp://localhost",
        "--operator-token=0123456789abcdef",
        &format!("--master-key={KEY}"),
    ]))
    .unwrap();
    assert!(matches!(config.mode, Mode::Production { .. }));
}

#[test]
fn invalid_settings_are_reported_by_name() {
    let cases: &[(&[&str], &str)] = &[
        (&["--listen=nowhere"], "HOOKGATE_LISTEN (--listen)"),
        (
            &["--payload-retention=1d"],
            "HOOKGATE_PAYLOAD_RETENTION (--payload-retention)",
        ),
        (
            &["--metrics-listen=nowhere"],
            "HOOKGATE_METRICS_LISTEN (--metrics-listen)",
        ),
        (
            &["--public-url=ftp://x"],
            "HOOKGATE_PUBLIC_URL (--public-url)",
        ),
        (&["--log-format=xml"], "HOOKGATE_LOG_FORMAT (--log-format)"),
        (&["--roles=ingress,cook"], "HOOKGATE_ROLES (--roles)"),
        (
            &["--otlp-endpoint=collector:4318"],
            "HOOKGATE_OTLP_ENDPOINT (--otlp-endpoint)",
        ),
        (
            &["--otlp-sample-ratio=2"],
            "HOOKGATE_OTLP_SAMPLE_RATIO (--otlp-sample-ratio)",
        ),
        (
            &["--retry-schedule=5s,soon"],
            "HOOKGATE_RETRY_SCHEDULE (--retry-schedule)",
        ),
        (
            &["--delivery-allow-cidrs=10.0.0.0/99"],
            "HOOKGATE_DELIVERY_ALLOW_CIDRS (--delivery-allow-cidrs)",
        ),
        (
            &["--delivery-batch-size=0"],
            "HOOKGATE_DELIVERY_BATCH_SIZE (--delivery-batch-size)",
        ),
        (
            &["--delivery-concurrency-per-endpoint=none"],
            "HOOKGATE_DELIVERY_CONCURRENCY_PER_ENDPOINT (--delivery-concurrency-per-endpoint)",
        ),
        (
            &["--delivery-max-in-flight=0"],
            "HOOKGATE_DELIVERY_MAX_IN_FLIGHT (--delivery-max-in-flight)",
        ),
        (
            &["--db-pool-size=0"],
            "HOOKGATE_DB_POOL_SIZE (--db-pool-size)",
        ),
        (
            &["--master-key=short"],
            "HOOKGATE_MASTER_KEY (--master-key)",
        ),
        (
            &["--operator-token=short"],
            "HOOKGATE_OPERATOR_TOKEN (--operator-token)",
        ),
        (
            &["--shutdown-timeout=forever"],
            "HOOKGATE_SHUTDOWN_TIMEOUT (--shutdown-timeout)",
        ),
        (
            &["--header-read-timeout=0s"],
            "HOOKGATE_HEADER_READ_TIMEOUT (--header-read-timeout)",
        ),
        (
            &["--body-read-timeout=slow"],
            "HOOKGATE_BODY_READ_TIMEOUT (--body-read-timeout)",
        ),
        (
            &["--keep-alive-timeout=0ms"],
            "HOOKGATE_KEEP_ALIVE_TIMEOUT (--keep-alive-timeout)",
        ),
        (
            &["--max-connections=0"],
            "HOOKGATE_MAX_CONNECTIONS (--max-connections)",
        ),
        (
            &["--trusted-proxies=10.0.0.0/33"],
            "HOOKGATE_TRUSTED_PROXIES (--trusted-proxies)",
        ),
        (
            &["--database-url=postgres://x"],
            "HOOKGATE_AMQP_URL (--amqp-url)",
        ),
        (
            &["--amqp-url=amqp://x"],
            "HOOKGATE_DATABASE_URL (--database-url)",
        ),
        (
            &["--database-url=mysql://x", "--amqp-url=amqp://x"],
            "HOOKGATE_DATABASE_URL (--database-url)",
        ),
    ];
    for (flags, setting) in cases {
        assert_eq!(error_setting(flags), *setting, "{flags:?}");
    }
}

#[test]
fn production_mode_requires_operator_token_and_master_key() {
    let urls = ["--database-url=postgres://x", "--amqp-url=amqp://x"];
    assert_eq!(
        error_setting(&urls),
        "HOOKGATE_OPERATOR_TOKEN (--operator-token)"
    );
    let with_token = [urls[0], urls[1], "--operator-token=0123456789abcdef"];
    assert_eq!(
        error_setting(&with_token),
        "HOOKGATE_MASTER_KEY (--master-key)"
    );
}

#[test]
fn config_file_values_become_defaults_that_flags_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookgate.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\nroles = [\"api\", \"ingress\"]\n",
    )
    .unwrap();
    let argv: Vec<std::ffi::OsString> = [
        "hookgate",
        "serve",
        "--config",
        path.to_str().unwrap(),
        "--log-format=text",
    ]
    .iter()
    .map(Into::into)
    .collect();
    let command = file::apply(<Cli as clap::CommandFactory>::command(), &argv, None).unwrap();
    let matches = command.try_get_matches_from(argv).unwrap();
    let Command::Serve(args) = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap()
        .command
    else {
        unreachable!()
    };
    let config = Config::from_args(&args).unwrap();
    assert_eq!(config.listen.port(), 9999);
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!(
        config.roles,
        [Role::Ingress, Role::Api].into_iter().collect()
    );
}

#[test]
fn config_file_with_unknown_setting_is_rejected_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookgate.toml");
    std::fs::write(&path, "lisen = \"127.0.0.1:9999\"\n").unwrap();
    let argv: Vec<std::ffi::OsString> = ["hookgate", "serve"].iter().map(Into::into).collect();
    let error = file::apply(
        <Cli as clap::CommandFactory>::command(),
        &argv,
        Some(path.into()),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown setting `lisen`"),
        "{error}"
    );
}

#[test]
fn retired_master_keys_are_a_comma_separated_list_checked_one_by_one() {
    let other = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let config = Config::from_args(&serve_args(&[&format!(
        "--master-keys-retired={KEY}, {other}"
    )]))
    .unwrap();
    assert_eq!(
        config.master_keys_retired,
        [Secret::new(KEY), Secret::new(other)]
    );
    assert!(Config::from_args(&serve_args(&[]))
        .unwrap()
        .master_keys_retired
        .is_empty());
    let error = Config::from_args(&serve_args(&[&format!(
        "--master-keys-retired={KEY},c2hvcnQ="
    )]))
    .unwrap_err();
    assert_eq!(
        error.setting,
        "HOOKGATE_MASTER_KEYS_RETIRED (--master-keys-retired)"
    );
    assert_eq!(
        error.reason,
        "key 2: master key must be 32 bytes of base64, got 5 bytes"
    );
}

fn rekey_config(flags: &[&str]) -> Result<RekeyConfig, ConfigError> {
    let argv = ["hookgate", "rekey"].iter().chain(flags);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Rekey(args) => RekeyConfig::from_args(&args),
        _ => unreachable!(),
    }
}

#[test]
fn rekey_reads_the_store_and_keys_as_serve_does() {
    let embedded = rekey_config(&[]).unwrap();
    assert!(embedded.database_url.is_none() && embedded.master_key.is_none());
    assert_eq!((embedded.batch_size, embedded.max_batches), (500, None));
    let production = rekey_config(&[
        "--database-url=postgres://x/db",
        &format!("--master-key={KEY}"),
        &format!("--master-keys-retired={KEY}"),
        "--batch-size=2",
        "--max-batches=1",
    ])
    .unwrap();
    assert!(production.database_url.is_some());
    assert_eq!(production.master_keys_retired.len(), 1);
    assert_eq!(
        (production.batch_size, production.max_batches),
        (2, Some(1))
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["--database-url=postgres://x/db"],
            "HOOKGATE_MASTER_KEY (--master-key)",
        ),
        (
            &["--database-url=mysql://x/db"],
            "HOOKGATE_DATABASE_URL (--database-url)",
        ),
        (&["--batch-size=0"], "--batch-size"),
        (&["--max-batches=some"], "--max-batches"),
        (
            &["--master-keys-retired=nope"],
            "HOOKGATE_MASTER_KEYS_RETIRED (--master-keys-retired)",
        ),
    ];
    for (flags, setting) in cases {
        assert_eq!(
            rekey_config(flags).unwrap_err().setting,
            *setting,
            "{flags:?}"
        );
    }
}

#[test]
fn trace_export_is_off_unless_an_endpoint_is_set() {
    let config = Config::from_args(&serve_args(&[])).unwrap();
    assert_eq!(config.otlp, None);
    let config = Config::from_args(&serve_args(&[
        "--otlp-endpoint=http://collector:4318",
        "--otlp-sample-ratio=0.25",
    ]))
    .unwrap();
    assert_eq!(
        config.otlp,
        Some(crate::telemetry::OtlpConfig {
            endpoint: "http://collector:4318".into(),
            sample_ratio: 0.25,
        })
    );
}
