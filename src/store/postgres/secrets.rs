//! Secrets of sources and endpoints in PostgreSQL, with rotation.

use super::{insert_audit, PostgresStore};
use crate::store::{AuditEntry, Rotation, SecretStore, StoreError, StoredSecret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const SECRET_COLUMNS: &str =
    "id, owner_id, sealed, fingerprint, created_at, expires_at, last_used_at";

fn secret_from_row(row: &Row) -> StoredSecret {
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
impl SecretStore for PostgresStore {
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

    async fn endpoint_secrets(
        &self,
        endpoint_ids: &[String],
    ) -> Result<Vec<StoredSecret>, StoreError> {
        if endpoint_ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, owner_id, sealed, fingerprint, created_at, expires_at, last_used_at
                 FROM secrets WHERE owner_id = ANY($1)
                 ORDER BY owner_id, created_at DESC, id DESC",
            )
            .await?;
        let rows = client.query(&statement, &[&endpoint_ids]).await?;
        Ok(rows.iter().map(secret_from_row).collect())
    }
}
