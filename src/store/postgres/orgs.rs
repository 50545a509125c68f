//! Orgs, API keys and the audit log in PostgreSQL.

use super::{insert_audit, PostgresStore};
use crate::store::{
    parse_scopes, parse_slug, ApiKey, AuditEntry, Org, OrgSlug, OrgStore, Page, PageRequest,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

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
impl OrgStore for PostgresStore {
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

    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>, StoreError> {
        let client = self.client().await?;
        let probe = page.limit as i64 + 1;
        let rows = client
            .query(
                "SELECT slug, name, created_at FROM orgs
                 WHERE ($1::text IS NULL OR slug > $1) ORDER BY slug LIMIT $2",
                &[&page.before, &probe],
            )
            .await?;
        let orgs = rows.iter().map(org_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(orgs, page.limit, |o: &Org| {
            o.slug.as_str()
        }))
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
        let select = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE org = $1");
        self.keyset_page(
            &select,
            "id",
            &[&org.as_str()],
            page,
            api_key_from_row,
            |k: &ApiKey| &k.id,
        )
        .await
    }

    async fn revoke_api_key(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.change_audited(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
            audit,
        )
        .await
    }

    async fn list_audit(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.keyset_page(
            "SELECT id, org, actor, action, target, details, at FROM audit_log WHERE org = $1",
            "id",
            &[&org.as_str()],
            page,
            audit_from_row,
            |e: &AuditEntry| &e.id,
        )
        .await
    }
}
