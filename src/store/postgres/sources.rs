//! Sources and secrets in PostgreSQL.

use super::{insert_audit, PostgresStore};
use crate::store::{
    parse_slug, AuditEntry, OrgSlug, Page, PageRequest, Rotation, Source, SourceStore, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const SOURCE_COLUMNS: &str = "id, org, name, workflow_id, verifier, enabled, event_filter, \
                              max_body_bytes, created_at, updated_at";
const SECRET_COLUMNS: &str =
    "id, owner_id, sealed, fingerprint, created_at, expires_at, last_used_at";

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
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

pub(super) fn secret_from_row(row: &Row) -> StoredSecret {
    StoredSecret {
        id: row.get("id"),
        owner_id: row.get("owner_id"),
        sealed: row.get("sealed"),
        fingerprint: row.get("fingerprint"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        last_used_at: row.get("last_used_at"),
    }
}

fn verifier_json(source: &Source) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(&source.verifier).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) async fn insert_secret(
    tx: &deadpool_postgres::Transaction<'_>,
    secret: &StoredSecret,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO secrets (id, owner_id, sealed, fingerprint, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &secret.id,
            &secret.owner_id,
            &secret.sealed,
            &secret.fingerprint,
            &secret.created_at,
            &secret.expires_at,
        ],
    )
    .await?;
    Ok(())
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
                                  max_body_bytes, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SOURCE_COLUMNS} FROM sources
             WHERE org = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        );
        let limit = page.limit as i64 + 1;
        let rows = client
            .query(&sql, &[&org.as_str(), &page.before, &limit])
            .await?;
        let sources = rows.iter().map(source_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(sources, page.limit, |s: &Source| {
            &s.id
        }))
    }

    async fn update_source(&self, source: &Source, audit: &AuditEntry) -> Result<bool, StoreError> {
        let max_body = source.max_body_bytes as i64;
        self.change_audited(
            "UPDATE sources SET name = $2, workflow_id = $3, enabled = $4, event_filter = $5,
                    max_body_bytes = $6, updated_at = $7
             WHERE id = $1 AND deleted_at IS NULL",
            &[
                &source.id,
                &source.name,
                &source.workflow_id,
                &source.enabled,
                &source.event_filter,
                &max_body,
                &source.updated_at,
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

    async fn list_secrets(&self, owner_id: &str) -> Result<Vec<StoredSecret>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE owner_id = $1
             ORDER BY created_at DESC, id DESC"
        );
        let rows = client.query(&sql, &[&owner_id]).await?;
        Ok(rows.iter().map(secret_from_row).collect())
    }

    async fn rotate_secret(
        &self,
        rotation: &Rotation,
        audit: &AuditEntry,
    ) -> Result<Vec<StoredSecret>, StoreError> {
        let new = &rotation.new_secret;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = format!(
            "UPDATE secrets SET expires_at = LEAST(COALESCE(expires_at, $2), $2)
             WHERE owner_id = $1 AND (expires_at IS NULL OR expires_at > $3)
             RETURNING {SECRET_COLUMNS}"
        );
        let previous = tx
            .query(
                &sql,
                &[&new.owner_id, &rotation.previous_expire_at, &new.created_at],
            )
            .await?;
        insert_secret(&tx, new).await?;
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(previous.iter().map(secret_from_row).collect())
    }

    async fn expire_secret(
        &self,
        owner_id: &str,
        secret_id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.change_audited(
            "UPDATE secrets SET expires_at = $3
             WHERE owner_id = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)",
            &[&owner_id, &secret_id, &at],
            audit,
        )
        .await
    }
}
