//! Orgs, API keys and the audit log in SQLite.

use super::keyset::keyset_page;
use super::{change_audited, from_millis, insert_audit, millis, query_all, EmbeddedStore};
use crate::store::{
    parse_scopes, parse_slug, ApiKey, AuditEntry, Org, OrgSlug, OrgStore, Page, PageRequest,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

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

const API_KEY_COLUMNS: &str = "id, org, name, scopes, created_at, revoked_at";

#[async_trait]
impl OrgStore for EmbeddedStore {
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

    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>, StoreError> {
        let (after, limit) = (page.before.clone(), page.limit);
        self.with_conn(move |conn| {
            let mut statement = conn.prepare(
                "SELECT slug, name, created_at FROM orgs
                 WHERE (?1 IS NULL OR slug > ?1) ORDER BY slug LIMIT ?2",
            )?;
            let rows = statement
                .query_map(params![after, limit as i64 + 1], |row| {
                    Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<Result<Vec<(String, String, i64)>, _>>()?;
            let orgs = rows
                .into_iter()
                .map(|(slug, name, created_at)| {
                    Ok(Org {
                        slug: parse_slug(&slug)?,
                        name,
                        created_at: from_millis(created_at)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Page::from_overfetch(orgs, limit, |o: &Org| o.slug.as_str()))
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
            let select = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE org = ?1");
            keyset_page(
                conn,
                &select,
                params![org.as_str()],
                &page,
                api_key_from_row,
                |k: &ApiKey| &k.id,
            )
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
            change_audited(
                conn,
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, millis(&at)],
                &audit,
            )
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
            keyset_page(
                conn,
                "SELECT id, org, actor, action, target, details, at FROM audit_log WHERE org = ?1",
                params![org.as_str()],
                &page,
                audit_from_row,
                |e: &AuditEntry| &e.id,
            )
        })
        .await
    }
}
