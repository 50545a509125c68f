//! Sources in SQLite.

use super::keyset::keyset_page;
use super::secrets::insert_secret;
use super::{change_audited, from_millis, insert_audit, millis, query_all, EmbeddedStore};
use crate::store::{
    parse_slug, AuditEntry, OrgSlug, Page, PageRequest, Source, SourceStore, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Row};

const SOURCE_COLUMNS: &str = "id, org, name, workflow_id, verifier, enabled, event_filter, \
                              max_body_bytes, quiet_after_s, created_at, updated_at";

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
        quiet_after_s: row.get("quiet_after_s")?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
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
                                      max_body_bytes, created_at, updated_at, quiet_after_s)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
                    source.quiet_after_s,
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
            let select = format!(
                "SELECT {SOURCE_COLUMNS} FROM sources WHERE org = ?1 AND deleted_at IS NULL"
            );
            keyset_page(
                conn,
                &select,
                params![org.as_str()],
                &page,
                source_from_row,
                |s: &Source| &s.id,
            )
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
                        max_body_bytes = ?6, updated_at = ?7, quiet_after_s = ?8
                 WHERE id = ?1 AND deleted_at IS NULL",
                params![
                    source.id,
                    source.name,
                    source.workflow_id,
                    source.enabled,
                    filter,
                    source.max_body_bytes as i64,
                    millis(&source.updated_at),
                    source.quiet_after_s,
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
}
