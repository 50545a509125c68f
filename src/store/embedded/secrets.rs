//! Secrets of sources and endpoints in SQLite, with rotation.

use super::{
    change_audited, from_millis, insert_audit, millis, optional_time, query_all, EmbeddedStore,
};
use crate::store::{
    parse_slug, AuditEntry, ResealBatch, Rotation, SealedCount, SealedSecret, SecretStore,
    StoreError, StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Row};

const SECRET_COLUMNS: &str =
    "id, owner_id, sealed, fingerprint, created_at, expires_at, last_used_at";

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
impl SecretStore for EmbeddedStore {
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

    async fn endpoint_secrets(
        &self,
        endpoint_ids: &[String],
    ) -> Result<Vec<StoredSecret>, StoreError> {
        let mut secrets = Vec::new();
        for id in endpoint_ids {
            secrets.extend(self.list_secrets(id).await?);
        }
        Ok(secrets)
    }

    async fn count_sealed_by_key(&self) -> Result<Vec<SealedCount>, StoreError> {
        self.with_conn(|conn| {
            // The key id is what lies between `hgs1.` and the next dot
            // (`crypto::sealed_key_id`); anything else is not a sealed value.
            query_all(
                conn,
                "SELECT CASE WHEN substr(sealed, 1, 5) = 'hgs1.'
                                  AND instr(substr(sealed, 6), '.') > 0
                             THEN substr(sealed, 6, instr(substr(sealed, 6), '.') - 1) END
                        AS key_id,
                        count(*) AS secrets
                 FROM secrets GROUP BY 1 ORDER BY 1",
                [],
                |row| {
                    Ok(SealedCount {
                        key_id: row.get("key_id")?,
                        secrets: u64::try_from(row.get::<_, i64>("secrets")?).unwrap_or_default(),
                    })
                },
            )
        })
        .await
    }

    async fn sealed_elsewhere(
        &self,
        key_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedSecret>, StoreError> {
        let prefix = format!("hgs1.{key_id}.");
        let after = after.unwrap_or("").to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            query_all(
                conn,
                "SELECT s.id, s.sealed, COALESCE(src.org, ep.org) AS org
                 FROM secrets s
                 LEFT JOIN sources src ON src.id = s.owner_id
                 LEFT JOIN endpoints ep ON ep.id = s.owner_id
                 WHERE s.id > ?1 AND substr(s.sealed, 1, length(?2)) <> ?2
                 ORDER BY s.id
                 LIMIT ?3",
                params![after, prefix, limit],
                |row| {
                    Ok(SealedSecret {
                        id: row.get("id")?,
                        org: row
                            .get::<_, Option<String>>("org")?
                            .as_deref()
                            .map(parse_slug)
                            .transpose()?,
                        sealed: row.get("sealed")?,
                    })
                },
            )
        })
        .await
    }

    async fn reseal_secrets(&self, batch: &ResealBatch) -> Result<Vec<String>, StoreError> {
        let batch = batch.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut written = Vec::new();
            {
                // Compare-and-set on the old ciphertext, as in PostgreSQL.
                let mut update = tx.prepare_cached(
                    "UPDATE secrets SET sealed = ?3 WHERE id = ?1 AND sealed = ?2",
                )?;
                for item in &batch.items {
                    if update.execute(params![item.id, item.old, item.new])? == 1 {
                        written.push(item.id.clone());
                    }
                }
            }
            for entry in batch.audit_entries(&written) {
                insert_audit(&tx, &entry)?;
            }
            tx.commit()?;
            Ok(written)
        })
        .await
    }
}
