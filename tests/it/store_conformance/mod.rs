//! One suite, both store backends: each case runs against PostgreSQL and SQLite.

mod activity;
mod console;
mod delivery;
mod event_log;
mod orgs;
mod reseal;
mod run_events;
mod runs;
mod sources;

/// Runs each listed `async fn(Arc<dyn Store>)` against a fresh PostgreSQL schema and a
/// fresh SQLite file.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let url = $crate::support::postgres_url().await;
                    let store = hookgate::store::PostgresStore::connect(&url, 2).await.unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = hookgate::store::EmbeddedStore::open(dir.path()).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}
