//! Embedded backend: one SQLite file under HOOKGATE_DATA_DIR for single-node use.
//!
//! WAL journal with `synchronous=FULL`, so every commit is fsynced before we answer.
//! SQLite is synchronous; calls run on the blocking pool behind one connection mutex
//! (single writer is SQLite's model anyway).

use super::{
    parse_scopes, parse_slug, ApiKey, AuditEntry, Org, OrgSlug, Page, PageRequest, Store,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// (user_version after applying, sql) in order. Never edit a released entry.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../../migrations/sqlite/0001_init.sql"))];

#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
}

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
    /// Opens (creating if needed) `hookgate.db` in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(data_dir.join("hookgate.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite itself consistent
            // (the transaction rolls back), so a poisoned mutex is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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

fn millis(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}

fn insert_audit(tx: &rusqlite::Transaction<'_>, entry: &AuditEntry) -> Result<(), StoreError> {
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

fn api_key_from_row(row: &Row<'_>) -> Result<ApiKey, StoreError> {
    let scopes: String = row.get("scopes")?;
    let scopes: Vec<String> =
        serde_json::from_str(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let revoked_at: Option<i64> = row.get("revoked_at")?;
    Ok(ApiKey {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        name: row.get("name")?,
        scopes: parse_scopes(&scopes)?,
        created_at: from_millis(row.get("created_at")?)?,
        revoked_at: revoked_at.map(from_millis).transpose()?,
    })
}

fn audit_from_row(row: &Row<'_>) -> Result<AuditEntry, StoreError> {
    let details: String = row.get("details")?;
    Ok(AuditEntry {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        actor: row.get("actor")?,
        action: row.get("action")?,
        target: row.get("target")?,
        details: serde_json::from_str(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        at: from_millis(row.get("at")?)?,
    })
}

/// Runs `sql` (bound to `params`) and maps every row; rusqlite's row callback cannot
/// return our error type, so rows are collected first.
fn query_all<T>(
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

const API_KEY_COLUMNS: &str = "id, org, name, scopes, created_at, revoked_at";

#[async_trait]
impl Store for EmbeddedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn create_org(&self, org: &Org, audit: &AuditEntry) -> Result<(), StoreError> {
        let (org, audit) = (org.clone(), audit.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let inserted = tx.execute(
                "INSERT INTO orgs (slug, name, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (slug) DO NOTHING",
                params![org.slug.as_str(), org.name, millis(&org.created_at)],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict("org"));
            }
            insert_audit(&tx, &audit)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_org(&self, slug: &OrgSlug) -> Result<Option<Org>, StoreError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT slug, name, created_at FROM orgs WHERE slug = ?1",
                    params![slug.as_str()],
                    |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            row.map(|(slug, name, created_at)| {
                Ok(Org {
                    slug: parse_slug(&slug)?,
                    name,
                    created_at: from_millis(created_at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn insert_api_key(
        &self,
        key: &ApiKey,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (key, audit, token_hash) = (key.clone(), audit.clone(), token_hash.to_owned());
        self.with_conn(move |conn| {
            let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
            let scopes =
                serde_json::to_string(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO api_keys (id, org, name, scopes, token_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    key.id,
                    key.org.as_str(),
                    key.name,
                    scopes,
                    token_hash,
                    millis(&key.created_at)
                ],
            )?;
            insert_audit(&tx, &audit)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_api_key_by_hash(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.with_conn(move |conn| {
            let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE token_hash = ?1");
            Ok(query_all(conn, &sql, params![token_hash], api_key_from_row)?.pop())
        })
        .await
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?1");
            Ok(query_all(conn, &sql, params![id], api_key_from_row)?.pop())
        })
        .await
    }

    async fn list_api_keys(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let (org, page) = (org.clone(), page.clone());
        self.with_conn(move |conn| {
            let sql = format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys
                 WHERE org = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
            );
            let limit = page.limit as i64 + 1;
            let keys = query_all(
                conn,
                &sql,
                params![org.as_str(), page.before, limit],
                api_key_from_row,
            )?;
            Ok(Page::from_overfetch(keys, page.limit, |k: &ApiKey| &k.id))
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, audit) = (id.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let updated = tx.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, millis(&at)],
            )?;
            if updated == 0 {
                return Ok(false);
            }
            insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn list_audit(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let (org, page) = (org.clone(), page.clone());
        self.with_conn(move |conn| {
            let limit = page.limit as i64 + 1;
            let entries = query_all(
                conn,
                "SELECT id, org, actor, action, target, details, at FROM audit_log
                 WHERE org = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
                params![org.as_str(), page.before, limit],
                audit_from_row,
            )?;
            Ok(Page::from_overfetch(
                entries,
                page.limit,
                |e: &AuditEntry| &e.id,
            ))
        })
        .await
    }
}
