//! Sources in PostgreSQL.

use super::secrets::insert_secret;
use super::{insert_audit, PostgresStore};
use crate::store::{
    parse_slug, AuditEntry, OrgSlug, Page, PageRequest, Source, SourceStore, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const SOURCE_COLUMNS: &str = "id, org, name, workflow_id, verifier, enabled, event_filter, \
                              max_body_bytes, quiet_after_s, created_at, updated_at";

fn source_from_row(row: &Row) -> Result<Source, StoreError> {
    let verifier: serde_json::Value = row.get("verifier");
    let max_body_bytes: i64 = row.get("max_body_bytes");
    Ok(Source {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        name: row.get("name"),
        workflow_id: row.get("workflow_id"),
        verifier: serde_json::from_value(verifier)
            .map_err(|e| StoreError::Corrupt(format!("source verifier: {e}")))?,
        enabled: row.get("enabled"),
        event_filter: row.get("event_filter"),
        max_body_bytes: u64::try_from(max_body_bytes)
            .map_err(|_| StoreError::Corrupt("negative max_body_bytes".into()))?,
        quiet_after_s: row
            .get::<_, Option<i32>>("quiet_after_s")
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("negative quiet_after_s".into()))?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn quiet_after(source: &Source) -> Option<i32> {
    source
        .quiet_after_s
        .map(|s| i32::try_from(s).unwrap_or(i32::MAX))
}

fn verifier_json(source: &Source) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(&source.verifier).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl SourceStore for PostgresStore {
    async fn create_source(
        &self,
        source: &Source,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let max_body = source.max_body_bytes as i64;
        tx.execute(
            "INSERT INTO sources (id, org, name, workflow_id, verifier, enabled, event_filter,
                                  max_body_bytes, created_at, updated_at, quiet_after_s)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &source.id,
                &source.org.as_str(),
                &source.name,
                &source.workflow_id,
                &verifier_json(source)?,
                &source.enabled,
                &source.event_filter,
                &max_body,
                &source.created_at,
                &source.updated_at,
                &quiet_after(source),
            ],
        )
        .await?;
        insert_secret(&tx, secret).await?;
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_source(&self, id: &str) -> Result<Option<Source>, StoreError> {
        let client = self.client().await?;
        let sql =
            format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1 AND deleted_at IS NULL");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn list_sources(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Source>, StoreError> {
        let select =
            format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE org = $1 AND deleted_at IS NULL");
        self.keyset_page(
            &select,
            "id",
            &[&org.as_str()],
            page,
            source_from_row,
            |s: &Source| &s.id,
        )
        .await
    }

    async fn update_source(&self, source: &Source, audit: &AuditEntry) -> Result<bool, StoreError> {
        let max_body = source.max_body_bytes as i64;
        self.change_audited(
            "UPDATE sources SET name = $2, workflow_id = $3, enabled = $4, event_filter = $5,
                    max_body_bytes = $6, updated_at = $7, quiet_after_s = $8
             WHERE id = $1 AND deleted_at IS NULL",
            &[
                &source.id,
                &source.name,
                &source.workflow_id,
                &source.enabled,
                &source.event_filter,
                &max_body,
                &source.updated_at,
                &quiet_after(source),
            ],
            audit,
        )
        .await
    }

    async fn delete_source(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.change_audited(
            "UPDATE sources SET deleted_at = $2, enabled = false
             WHERE id = $1 AND deleted_at IS NULL",
            &[&id, &at],
            audit,
        )
        .await
    }
}
