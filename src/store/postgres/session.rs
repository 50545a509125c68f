//! What hookgate sets in each of its PostgreSQL sessions, where nobody chose otherwise.
//!
//! `backend_flush_after = 256kB`: a backend that evicts dirty pages (ingress writes
//! several rows per webhook, more than a stock 128 MB `shared_buffers` keeps) asks the
//! kernel to write them out every 256 kB, instead of leaving them in the page cache. At
//! 5,000 webhooks/s those evictions are ~40 MB/s; left alone, the kernel writes
//! 300–400 MB of them at once when they are 30 s old or at a checkpoint's fsync, and
//! every commit's WAL flush waits behind that burst (stalls of 150–220 ms; in an A/B at
//! 5,000/s the p99 was 76–96 ms without this and ~20 ms in two of three runs with it:
//! BENCHMARKS.md, "Findings behind the current design"). PostgreSQL ships
//! it off because for some workloads the kernel's own batching is faster; for a
//! latency-bound writer it is what the PostgreSQL docs recommend.
//!
//! A value chosen anywhere else wins: the server's configuration, `ALTER ROLE` or
//! `ALTER DATABASE … SET`, or `options=-c backend_flush_after=…` in the URL all give the
//! setting a source other than `default`, and then hookgate leaves it alone.

use deadpool_postgres::{Hook, HookError};

const TUNE: &str = "SELECT set_config(name, '256kB', false) FROM pg_settings \
                    WHERE name = 'backend_flush_after' AND source = 'default'";

/// The pool's `post_create` hook. A server that refuses the setting (a platform
/// without `sync_file_range`) still gets the connection, with a warning.
pub(super) fn tune_new_sessions() -> Hook {
    Hook::async_fn(|client, _| {
        Box::pin(async move {
            if let Err(error) = client.simple_query(TUNE).await {
                tracing::warn!(%error, "cannot set backend_flush_after; going on without it");
            }
            Ok::<(), HookError>(())
        })
    })
}
