//! One integration-test binary (faster to link than one per file). Tests that need
//! PostgreSQL and RabbitMQ use the real ones, isolated by schema and exchange prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod cli;
mod cli_events;
mod cli_hooks;
mod cli_runs;
mod console;
mod console_browser;
mod data_dir;
mod delivery_client;
mod delivery_signing;
mod edge;
mod health;
mod hooks;
mod ingress;
mod lifecycle;
mod openapi;
mod postgres_session;
mod queue_conformance;
mod rekey;
mod runs;
mod store_conformance;
mod support;
mod tidy;
mod tour;
mod traces;

/// Runs each listed `async fn(Mode)` test once per mode (SPEC §2: same API in both).
#[macro_export]
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::server::Mode::Embedded).await;
                }
            )*
        }
        mod production {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::server::Mode::Production).await;
                }
            )*
        }
    };
}
