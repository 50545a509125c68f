//! Forward-only migrations from `migrations/postgres`, compiled into the binary.
//!
//! Applied by `hookgate migrate` and on every start. A transaction-scoped advisory lock
//! (keyed by the schema) makes concurrent starts of many instances safe.

use tokio_postgres::Client;

/// (version, name, sql) in order. Never edit a released entry; add a new one.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "ingress",
        include_str!("../../../migrations/postgres/0002_ingress.sql"),
    ),
    (
        3,
        "relay",
        include_str!("../../../migrations/postgres/0003_relay.sql"),
    ),
    (
        4,
        "delivery",
        include_str!("../../../migrations/postgres/0004_delivery.sql"),
    ),
    (
        5,
        "event_trace",
        include_str!("../../../migrations/postgres/0005_event_trace.sql"),
    ),
    (
        6,
        "ingress_hot_path",
        include_str!("../../../migrations/postgres/0006_ingress_hot_path.sql"),
    ),
    (
        7,
        "outbox_body_once",
        include_str!("../../../migrations/postgres/0007_outbox_body_once.sql"),
    ),
    (
        8,
        "delivery_last_attempt",
        include_str!("../../../migrations/postgres/0008_delivery_last_attempt.sql"),
    ),
    (
        9,
        "event_log",
        include_str!("../../../migrations/postgres/0009_event_log.sql"),
    ),
    (
        10,
        "event_body_expiry",
        include_str!("../../../migrations/postgres/0010_event_body_expiry.sql"),
    ),
    (
        11,
        "console_sessions",
        include_str!("../../../migrations/postgres/0011_console_sessions.sql"),
    ),
    (
        12,
        "read_path_indexes",
        include_str!("../../../migrations/postgres/0012_read_path_indexes.sql"),
    ),
    (
        13,
        "activity_counts",
        include_str!("../../../migrations/postgres/0013_activity_counts.sql"),
    ),
    (
        14,
        "delivery_hot_path",
        include_str!("../../../migrations/postgres/0014_delivery_hot_path.sql"),
    ),
    (
        15,
        "deliveries_retrying",
        include_str!("../../../migrations/postgres/0015_deliveries_retrying.sql"),
    ),
];

/// Applies pending migrations; returns the versions applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('hookgate_migrations.' || current_schema()));
         CREATE TABLE IF NOT EXISTS hookgate_migrations (
             version     integer PRIMARY KEY,
             name        text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM hookgate_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut newly_applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO hookgate_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        newly_applied.push(*version);
    }
    tx.commit().await?;
    Ok(newly_applied)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_postgres_migration_file_is_applied_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), super::MIGRATIONS.len(), "{files:?}");
        for (i, (version, name, _)) in super::MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1);
            assert_eq!(files[i], format!("{:04}_{name}.sql", version));
        }
    }
}
