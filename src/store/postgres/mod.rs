//! PostgreSQL backend: production mode, shared by any number of instances.

mod migrate;

use super::{
    parse_scopes, parse_slug, ApiKey, AuditEntry, BoxError, Org, OrgSlug, Page, PageRequest, Store,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

/// How long a request waits for a connection before the store counts as unavailable;
/// short, because a sender is waiting and will retry on 503.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PostgresStore {
    pool: Pool,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StoreError::Conflict("record")
        } else {
            StoreError::Unavailable(Box::new(error))
        }
    }
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
            pg_config,
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
            .build()
            .map_err(unavailable)?;
        let store = Self { pool };
        let mut client = store.client().await?;
        migrate::migrate(&mut client).await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }
}

async fn insert_audit(
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

fn org_from_row(row: &Row) -> Result<Org, StoreError> {
    Ok(Org {
        slug: parse_slug(row.get("slug"))?,
        name: row.get("name"),
        created_at: row.get("created_at"),
    })
}

fn api_key_from_row(row: &Row) -> Result<ApiKey, StoreError> {
    let scopes: Vec<String> = row.get("scopes");
    Ok(ApiKey {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        name: row.get("name"),
        scopes: parse_scopes(&scopes)?,
        created_at: row.get("created_at"),
        revoked_at: row.get("revoked_at"),
    })
}

fn audit_from_row(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        actor: row.get("actor"),
        action: row.get("action"),
        target: row.get("target"),
        details: row.get("details"),
        at: row.get("at"),
    })
}

const API_KEY_COLUMNS: &str = "id, org, name, scopes, created_at, revoked_at";

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn create_org(&self, org: &Org, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO orgs (slug, name, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (slug) DO NOTHING",
                &[&org.slug.as_str(), &org.name, &org.created_at],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict("org"));
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_org(&self, slug: &OrgSlug) -> Result<Option<Org>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT slug, name, created_at FROM orgs WHERE slug = $1",
                &[&slug.as_str()],
            )
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn insert_api_key(
        &self,
        key: &ApiKey,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO api_keys (id, org, name, scopes, token_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.id,
                &key.org.as_str(),
                &key.name,
                &scopes,
                &token_hash,
                &key.created_at,
            ],
        )
        .await?;
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_api_key_by_hash(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE token_hash = $1");
        let row = client.query_opt(&sql, &[&token_hash]).await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys
             WHERE org = $1 AND ($2::text IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        );
        let limit = page.limit as i64 + 1;
        let rows = client
            .query(&sql, &[&org.as_str(), &page.before, &limit])
            .await?;
        let keys = rows
            .iter()
            .map(api_key_from_row)
            .collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(keys, page.limit, |k: &ApiKey| &k.id))
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let updated = tx
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await?;
        if updated == 0 {
            return Ok(false);
        }
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_audit(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let limit = page.limit as i64 + 1;
        let rows = client
            .query(
                "SELECT id, org, actor, action, target, details, at FROM audit_log
                 WHERE org = $1 AND ($2::text IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3",
                &[&org.as_str(), &page.before, &limit],
            )
            .await?;
        let entries = rows.iter().map(audit_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(
            entries,
            page.limit,
            |e: &AuditEntry| &e.id,
        ))
    }
}
