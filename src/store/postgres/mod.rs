//! PostgreSQL backend: production mode, shared by any number of instances.

mod activity;
mod console;
mod deliveries;
mod endpoints;
mod event_log;
mod ingress;
mod keyset;
mod listen;
mod migrate;
mod orgs;
mod run_events;
mod runs;
mod secrets;
mod session;
mod sources;

use super::{AuditEntry, BoxError, Store, StoreError};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// How long a request waits for a connection before the store counts as unavailable;
/// short, because a sender is waiting and will retry on 503.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PostgresStore {
    pool: Pool,
    /// For connections of its own (the run event listener).
    config: tokio_postgres::Config,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let code = error.code();
        if code == Some(&SqlState::UNIQUE_VIOLATION) {
            StoreError::Conflict("record")
        } else if code.is_some_and(refuses_the_value) {
            StoreError::Refused("body".to_owned())
        } else {
            StoreError::Unavailable(Box::new(error))
        }
    }
}

/// SQLSTATE classes that mean "this value cannot be stored", not "the database is
/// down": data exceptions (22: NUL in text, invalid encoding, out of range) and
/// program limits (54: an index row too large). Retrying them fails the same way.
fn refuses_the_value(code: &SqlState) -> bool {
    let class = &code.code()[..2.min(code.code().len())];
    class == "22" || class == "54"
}

/// A row that cannot be decoded.
fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn unavailable(error: impl Into<BoxError>) -> StoreError {
    StoreError::Unavailable(error.into())
}

/// Connects one client and applies pending migrations (`hookgate migrate`).
pub async fn migrate(database_url: &str) -> Result<Vec<i32>, StoreError> {
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let applied = migrate::migrate(&mut client).await;
    drop(client);
    let _ = driver.await;
    Ok(applied?)
}

impl PostgresStore {
    /// Builds the pool, then migrates (which proves the database is reachable).
    pub async fn connect(database_url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let pg_config: tokio_postgres::Config = database_url.parse().map_err(unavailable)?;
        let manager = Manager::from_config(
            pg_config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .post_create(session::tune_new_sessions())
            .build()
            .map_err(unavailable)?;
        let store = Self {
            pool,
            config: pg_config,
        };
        let mut client = store.client().await?;
        migrate::migrate(&mut client).await?;
        Ok(store)
    }

    /// One change and, when it touched a row, its audit entry, in one transaction;
    /// true when something changed.
    pub(super) async fn change_audited(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if tx.execute(sql, params).await? == 0 {
            return Ok(false);
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A server setting as hookgate's own sessions see it (`SHOW name`).
    pub async fn session_setting(&self, name: &str) -> Result<String, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT current_setting($1)", &[&name])
            .await?;
        Ok(row.get(0))
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }
}

pub(super) async fn insert_audit(
    tx: &deadpool_postgres::Transaction<'_>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (id, org, actor, action, target, details, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &entry.id,
            &entry.org.as_str(),
            &entry.actor,
            &entry.action,
            &entry.target,
            &entry.details,
            &entry.at,
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn listen_run_events(
        &self,
        wake: crate::store::RunWakeFn,
        stop: tokio_util::sync::CancellationToken,
    ) {
        listen::listen(self.config.clone(), wake, stop).await;
    }
}
