//! Test harness: real PostgreSQL and RabbitMQ, each test isolated (its own schema,
//! its own exchange prefix), and the real server on 127.0.0.1:0.

pub mod consumer;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod server;

pub use proxy::TcpProxy;
pub use server::TestServer;

use rand::RngCore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
const ADMIN_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TEST_DATABASE: &str = "hookgate_test";
/// Schemas of runs older than this are dropped by later runs.
const STALE_SCHEMA_SECS: u64 = 3600;

pub fn unique_suffix() -> String {
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (scripts/test starts it)");
    tokio::spawn(connection);
    client
}

fn test_database_url() -> String {
    format!("{POSTGRES}/{TEST_DATABASE}")
}

/// A fresh, empty schema in the test database; returns a URL whose connections use it.
pub async fn postgres_url() -> String {
    let admin = connect(ADMIN_DATABASE_URL).await;
    // Concurrent tests race to create it; losing the race is fine.
    let _ = admin
        .batch_execute(&format!("CREATE DATABASE {TEST_DATABASE}"))
        .await;
    let client = connect(&test_database_url()).await;
    let now = now_secs();
    drop_stale_schemas(&client, now).await;
    let schema = format!("t_{now}_{}", unique_suffix());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    format!("{}?options=-csearch_path%3D{schema}", test_database_url())
}

async fn drop_stale_schemas(client: &tokio_postgres::Client, now: u64) {
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%\\_%'",
            &[],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let created = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + STALE_SCHEMA_SECS < now) {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
}

/// A unique exchange prefix so tests sharing the broker never see each other's messages.
pub fn amqp_prefix() -> String {
    format!("t{}", unique_suffix())
}

/// Polls `condition` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
