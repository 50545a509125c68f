//! The server settings a run's figures depend on, printed with them: the same build
//! gives a different tail on a PostgreSQL or RabbitMQ sized differently
//! (backend_flush_after and the quorum WAL rollover size each moved the p99 at 5,000/s
//! several-fold; BENCHMARKS.md, "Reproducing"), so a figure without them cannot be
//! compared.

use std::process::Command;

use crate::report;
use crate::stack::postgres;

/// PostgreSQL settings that move the 5,000/s tail. `backend_flush_after` is the
/// server's value; hookgate's own sessions use 256kB where this says 0 and its source
/// is the default.
const POSTGRES_SETTINGS: &[&str] = &["max_wal_size", "backend_flush_after", "synchronous_commit"];

pub async fn print(admin_url: &str, amqp_url: &str) {
    report::line("postgres settings", postgres_settings(admin_url).await);
    let rollover = if is_local(amqp_url) {
        rabbitmq_wal_max_size()
    } else {
        "unknown (the broker is not on this host)".to_owned()
    };
    report::line("rabbitmq quorum WAL rollover", rollover);
}

/// `rabbitmqctl` asks the local node, which is the measured broker only when the AMQP
/// URL points at this host.
fn is_local(amqp_url: &str) -> bool {
    reqwest::Url::parse(amqp_url)
        .is_ok_and(|url| matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
}

async fn postgres_settings(admin_url: &str) -> String {
    let Ok(client) = postgres(admin_url).await else {
        return "unknown (cannot connect)".to_owned();
    };
    let rows = client
        .query(
            "SELECT name, current_setting(name), source FROM pg_settings
             WHERE name = ANY($1) ORDER BY name",
            &[&POSTGRES_SETTINGS],
        )
        .await;
    match rows {
        Ok(rows) => rows
            .iter()
            .map(|row| {
                let (name, value, source): (String, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                format!("{name}={value} ({source})")
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(error) => format!("unknown ({error})"),
    }
}

/// Read with `rabbitmqctl`, which only works on the broker's host with its cookie; the
/// figure is then "unknown", not a guess.
fn rabbitmq_wal_max_size() -> String {
    let output = Command::new("rabbitmqctl")
        .args(["eval", "application:get_env(ra, wal_max_size_bytes)."])
        .output();
    let Ok(output) = output else {
        return "unknown (no rabbitmqctl)".to_owned();
    };
    let text = String::from_utf8_lossy(&output.stdout);
    match parse_wal_max_size(&text) {
        Some(bytes) => format!("raft.wal_max_size_bytes={bytes} ({} MiB)", bytes >> 20),
        None => "unknown (rabbitmqctl eval failed)".to_owned(),
    }
}

/// `{ok,536870912}` → 536870912.
fn parse_wal_max_size(text: &str) -> Option<u64> {
    text.trim()
        .strip_prefix("{ok,")?
        .strip_suffix('}')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::{is_local, parse_wal_max_size};

    #[test]
    fn asks_rabbitmqctl_only_about_a_broker_on_this_host() {
        assert!(is_local("amqp://guest:guest@127.0.0.1:5672/%2f"));
        assert!(is_local("amqp://localhost"));
        assert!(!is_local("amqp://guest:guest@broker.internal:5672/%2f"));
        assert!(!is_local("amqp://u:p@10.0.0.5/%2f"));
        assert!(!is_local("amqp://localhost.example.com"));
        assert!(is_local("amqp://[::1]:5672"));
    }

    #[test]
    fn reads_the_wal_size_rabbitmqctl_prints() {
        assert_eq!(parse_wal_max_size("{ok,536870912}\n"), Some(536_870_912));
        assert_eq!(parse_wal_max_size("undefined\n"), None);
        assert_eq!(
            parse_wal_max_size("Error: unable to perform an operation"),
            None
        );
    }
}
