//! Secrets of sources and endpoints in PostgreSQL, with rotation.

use super::{insert_audit, PostgresStore};
use crate::store::{
    parse_slug, AuditEntry, ResealBatch, Rotation, SealedCount, SealedSecret, SecretStore,
    StoreError, StoredSecret,
};
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

    async fn count_sealed_by_key(&self) -> Result<Vec<SealedCount>, StoreError> {
        let client = self.client().await?;
        // The key id is the second dot-separated part of `hgs1.<key id>.<data>`
        // (`crypto::sealed_key_id`); anything else is not a sealed value.
        let rows = client
            .query(
                "SELECT CASE WHEN sealed LIKE 'hgs1.%.%' THEN split_part(sealed, '.', 2) END
                        AS key_id,
                        count(*) AS secrets
                 FROM secrets GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| SealedCount {
                key_id: row.get("key_id"),
                secrets: u64::try_from(row.get::<_, i64>("secrets")).unwrap_or_default(),
            })
            .collect())
    }

    async fn sealed_elsewhere(
        &self,
        key_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedSecret>, StoreError> {
        let client = self.client().await?;
        let prefix = format!("hgs1.{key_id}.");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT s.id, s.sealed, COALESCE(src.org, ep.org) AS org
                 FROM secrets s
                 LEFT JOIN sources src ON src.id = s.owner_id
                 LEFT JOIN endpoints ep ON ep.id = s.owner_id
                 WHERE s.id > $1 AND NOT starts_with(s.sealed, $2)
                 ORDER BY s.id
                 LIMIT $3",
                &[&after.unwrap_or(""), &prefix, &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SealedSecret {
                    id: row.get("id"),
                    org: row
                        .get::<_, Option<&str>>("org")
                        .map(parse_slug)
                        .transpose()?,
                    sealed: row.get("sealed"),
                })
            })
            .collect()
    }

    async fn reseal_secrets(&self, batch: &ResealBatch) -> Result<Vec<String>, StoreError> {
        let (mut ids, mut old, mut new) = (Vec::new(), Vec::new(), Vec::new());
        for item in &batch.items {
            ids.push(item.id.as_str());
            old.push(item.old.as_str());
            new.push(item.new.as_str());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Compare-and-set on the old ciphertext: a row re-sealed meanwhile (by another
        // run, or under a newer key) no longer matches and is left as it is.
        let rows = tx
            .query(
                "UPDATE secrets s SET sealed = u.new
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, old, new)
                 WHERE s.id = u.id AND s.sealed = u.old
                 RETURNING s.id",
                &[&ids, &old, &new],
            )
            .await?;
        let written: Vec<String> = rows.iter().map(|row| row.get("id")).collect();
        for entry in batch.audit_entries(&written) {
            insert_audit(&tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(written)
    }
}
