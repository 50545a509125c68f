//! Embedded backend: one SQLite file under HOOKGATE_DATA_DIR for single-node use.
//!
//! WAL journal with `synchronous=FULL`, so every commit is fsynced before we answer.
//! SQLite is synchronous; calls run on the blocking pool behind one connection mutex
//! (single writer is SQLite's model anyway). The store holds the data dir's lock
//! ([`DataDirLock`]), so one process at a time uses a data dir.

mod activity;
mod console;
mod deliveries;
mod endpoints;
mod event_log;
mod ingress;
mod keyset;
mod orgs;
mod run_events;
mod runs;
mod secrets;
mod sources;

use super::{AuditEntry, Store, StoreError};
use crate::bootstrap::DataDirLock;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, Row};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

const DB_FILE: &str = "hookgate.db";

/// (user_version after applying, sql) in order. Never edit a released entry.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_ingress.sql"),
    ),
    (3, include_str!("../../../migrations/sqlite/0003_relay.sql")),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_delivery.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_event_trace.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_ingress_hot_path.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_delivery_last_attempt.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_event_log.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/sqlite/0009_console_sessions.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/sqlite/0010_activity_counts.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/sqlite/0011_deliveries_retrying.sql"),
    ),
];

#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// The connection and the data dir's lock live and die together, so no other process
/// can open the database while any clone of the store, or a call still running on the
/// blocking pool, can use it.
struct Inner {
    // Declared first so it is dropped first: SQLite closes (checkpointing the WAL)
    // before the lock lets another process in.
    conn: Mutex<Connection>,
    /// Calls on the blocking pool at once (see [`EmbeddedStore::with_conn`]).
    callers: Arc<tokio::sync::Semaphore>,
    _lock: DataDirLock,
}

/// Blocking-pool calls at once: one holding the connection and one waiting for it, so
/// the next starts the moment the connection is free. Every other caller waits as a
/// future. Without the bound, 1,000 live run-event streams polling at once grew the
/// blocking pool to 512 threads, each parked on the mutex, and hookgate's RSS by
/// 200–300 MiB (their stacks and per-thread allocator heaps).
const BLOCKING_CALLERS: usize = 2;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::SqliteFailure(e, _)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                StoreError::Conflict("record")
            }
            _ => StoreError::Unavailable(Box::new(error)),
        }
    }
}

impl EmbeddedStore {
    /// Locks `data_dir` (see [`DataDirLock::acquire`]), then opens it as
    /// [`EmbeddedStore::open_locked`] does.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let lock =
            DataDirLock::acquire(data_dir).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Self::open_locked(lock)
    }

    /// Opens (creating if needed) `hookgate.db` in the locked dir and migrates it; the
    /// store keeps the lock until its last clone is dropped.
    pub fn open_locked(lock: DataDirLock) -> Result<Self, StoreError> {
        let path = lock.dir().join(DB_FILE);
        // Created 0600 before SQLite sees it: SQLite gives the -wal and -shm files it
        // creates the main file's mode, and takes an empty file as a new database.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                StoreError::Unavailable(Box::new(std::io::Error::new(
                    e.kind(),
                    format!("cannot create {}: {e}", path.display()),
                )))
            })?;
        let mut conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                callers: Arc::new(tokio::sync::Semaphore::new(BLOCKING_CALLERS)),
                _lock: lock,
            }),
        })
    }

    pub(super) async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        // Never closed, so acquiring fails only if it were; say so rather than panic.
        // Held by the blocking call itself: a caller that gives up waiting for it does
        // not let another call onto the pool while it still runs.
        let permit = Arc::clone(&self.inner.callers)
            .acquire_owned()
            .await
            .map_err(|closed| StoreError::Unavailable(Box::new(closed)))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A panic while holding the mutex leaves SQLite itself consistent
            // (the transaction rolls back), so a poisoned mutex is safe to reuse.
            let mut guard = inner
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|join| StoreError::Unavailable(Box::new(join)))?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let current: i32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn millis(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}

pub(super) fn optional_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_millis).transpose()
}

/// A row that cannot be decoded.
pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

/// One change and, when it touched a row, its audit entry, in one transaction; true
/// when something changed.
pub(super) fn change_audited(
    conn: &mut Connection,
    sql: &str,
    params: impl rusqlite::Params,
    audit: &AuditEntry,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    if tx.execute(sql, params)? == 0 {
        return Ok(false);
    }
    insert_audit(&tx, audit)?;
    tx.commit()?;
    Ok(true)
}

pub(super) fn insert_audit(
    tx: &rusqlite::Transaction<'_>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (id, org, actor, action, target, details, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            entry.id,
            entry.org.as_str(),
            entry.actor,
            entry.action,
            entry.target,
            entry.details.to_string(),
            millis(&entry.at),
        ],
    )?;
    Ok(())
}

/// Runs `sql` (bound to `params`) and maps every row; rusqlite's row callback cannot
/// return our error type, so rows are collected first.
pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn listen_run_events(
        &self,
        _wake: crate::store::RunWakeFn,
        stop: tokio_util::sync::CancellationToken,
    ) {
        stop.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sqlite_migration_file_is_applied_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), super::MIGRATIONS.len(), "{files:?}");
        for (i, (version, _)) in super::MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1);
            assert!(
                files[i].starts_with(&format!("{:04}_", version)),
                "{}",
                files[i]
            );
        }
    }
}
