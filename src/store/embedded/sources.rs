//! Sources and secrets in SQLite.

use super::{change_audited, from_millis, insert_audit, millis, query_all, EmbeddedStore};
use crate::store::{
    parse_slug, AuditEntry, OrgSlug, Page, PageRequest, Rotation, Source, SourceStore, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Row};

const SOURCE_COLUMNS: &str = "id, org, name, workflow_id, verifier, enabled, event_filter, \
                              max_body_bytes, created_at, updated_at";
const SECRET_COLUMNS: &str =
    "id, owner_id, sealed, fingerprint, created_at, expires_at, last_used_at";

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn source_from_row(row: &Row<'_>) -> Result<Source, StoreError> {
    let verifier: String = row.get("verifier")?;
    let filter: String = row.get("event_filter")?;
    let max_body_bytes: i64 = row.get("max_body_bytes")?;
    Ok(Source {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        name: row.get("name")?,
        workflow_id: row.get("workflow_id")?,
        verifier: serde_json::from_str(&verifier).map_err(corrupt)?,
        enabled: row.get("enabled")?,
        event_filter: serde_json::from_str(&filter).map_err(corrupt)?,
        max_body_bytes: u64::try_from(max_body_bytes).map_err(corrupt)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

fn optional_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_millis).transpose()
}

fn secret_from_row(row: &Row<'_>) -> Result<StoredSecret, StoreError> {
    Ok(StoredSecret {
        id: row.get("id")?,
        owner_id: row.get("owner_id")?,
        sealed: row.get("sealed")?,
        fingerprint: row.get("fingerprint")?,
        created_at: from_millis(row.get("created_at")?)?,
        expires_at: optional_time(row.get("expires_at")?)?,
        last_used_at: optional_time(row.get("last_used_at")?)?,
    })
}

pub(super) fn insert_secret(
    tx: &rusqlite::Transaction<'_>,
    secret: &StoredSecret,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO secrets (id, owner_id, sealed, fingerprint, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            secret.id,
            secret.owner_id,
            secret.sealed,
            secret.fingerprint,
            millis(&secret.created_at),
            secret.expires_at.as_ref().map(millis),
        ],
    )?;
    Ok(())
}

#[async_trait]
impl SourceStore for EmbeddedStore {
    async fn create_source(
        &self,
        source: &Source,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (source, secret, audit) = (source.clone(), secret.clone(), audit.clone());
        self.with_conn(move |conn| {
            let verifier = serde_json::to_string(&source.verifier).map_err(corrupt)?;
            let filter = serde_json::to_string(&source.event_filter).map_err(corrupt)?;
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO sources (id, org, name, workflow_id, verifier, enabled, event_filter,
                                      max_body_bytes, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    source.id,
                    source.org.as_str(),
                    source.name,
                    source.workflow_id,
                    verifier,
                    source.enabled,
                    filter,
                    source.max_body_bytes as i64,
                    millis(&source.created_at),
                    millis(&source.updated_at),
                ],
            )?;
            insert_secret(&tx, &secret)?;
            insert_audit(&tx, &audit)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_source(&self, id: &str) -> Result<Option<Source>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let sql = format!(
                "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = ?1 AND deleted_at IS NULL"
            );
            Ok(query_all(conn, &sql, params![id], source_from_row)?.pop())
        })
        .await
    }

    async fn list_sources(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Source>, StoreError> {
        let (org, page) = (org.clone(), page.clone());
        self.with_conn(move |conn| {
            let sql = format!(
                "SELECT {SOURCE_COLUMNS} FROM sources
                 WHERE org = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            );
            let limit = page.limit as i64 + 1;
            let sources = query_all(
                conn,
                &sql,
                params![org.as_str(), page.before, limit],
                source_from_row,
            )?;
            Ok(Page::from_overfetch(sources, page.limit, |s: &Source| {
                &s.id
            }))
        })
        .await
    }

    async fn update_source(&self, source: &Source, audit: &AuditEntry) -> Result<bool, StoreError> {
        let (source, audit) = (source.clone(), audit.clone());
        self.with_conn(move |conn| {
            let filter = serde_json::to_string(&source.event_filter).map_err(corrupt)?;
            change_audited(
                conn,
                "UPDATE sources SET name = ?2, workflow_id = ?3, enabled = ?4, event_filter = ?5,
                        max_body_bytes = ?6, updated_at = ?7
                 WHERE id = ?1 AND deleted_at IS NULL",
                params![
                    source.id,
                    source.name,
                    source.workflow_id,
                    source.enabled,
                    filter,
                    source.max_body_bytes as i64,
                    millis(&source.updated_at),
                ],
                &audit,
            )
        })
        .await
    }

    async fn delete_source(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, audit) = (id.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE sources SET deleted_at = ?2, enabled = 0
                 WHERE id = ?1 AND deleted_at IS NULL",
                params![id, millis(&at)],
                &audit,
            )
        })
        .await
    }

    async fn list_secrets(&self, owner_id: &str) -> Result<Vec<StoredSecret>, StoreError> {
        let owner_id = owner_id.to_owned();
        self.with_conn(move |conn| {
            let sql = format!(
                "SELECT {SECRET_COLUMNS} FROM secrets WHERE owner_id = ?1
                 ORDER BY created_at DESC, id DESC"
            );
            query_all(conn, &sql, params![owner_id], secret_from_row)
        })
        .await
    }

    async fn rotate_secret(
        &self,
        rotation: &Rotation,
        audit: &AuditEntry,
    ) -> Result<Vec<StoredSecret>, StoreError> {
        let (rotation, audit) = (rotation.clone(), audit.clone());
        self.with_conn(move |conn| {
            let new = &rotation.new_secret;
            let tx = conn.transaction()?;
            let sql = format!(
                "UPDATE secrets SET expires_at = MIN(COALESCE(expires_at, ?2), ?2)
                 WHERE owner_id = ?1 AND (expires_at IS NULL OR expires_at > ?3)
                 RETURNING {SECRET_COLUMNS}"
            );
            let previous = query_all(
                &tx,
                &sql,
                params![
                    new.owner_id,
                    millis(&rotation.previous_expire_at),
                    millis(&new.created_at)
                ],
                secret_from_row,
            )?;
            insert_secret(&tx, new)?;
            insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(previous)
        })
        .await
    }

    async fn expire_secret(
        &self,
        owner_id: &str,
        secret_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (owner_id, secret_id, audit) =
            (owner_id.to_owned(), secret_id.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE secrets SET expires_at = ?3
                 WHERE owner_id = ?1 AND id = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
                params![owner_id, secret_id, millis(&at)],
                &audit,
            )
        })
        .await
    }
}
