//! Endpoints in PostgreSQL: where run events are delivered, and their on/off state.

use super::secrets::insert_secret;
use super::{corrupt, insert_audit, PostgresStore};
use crate::store::{
    parse_slug, AuditEntry, Endpoint, EndpointStore, OrgSlug, Page, PageRequest, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

pub(super) const ENDPOINT_COLUMNS: &str =
    "e.id, e.org, e.url, e.description, e.event_types, e.workflow_ids, \
     e.enabled, e.disabled_reason, e.timeout_ms, e.rate_limit_per_s, e.retry_schedule, \
     e.failing_since, e.created_at, e.updated_at";

/// The names of an endpoint's columns that a query may have to alias (a join with
/// deliveries has its own `id`, `org` and times).
pub(super) struct EndpointNames {
    pub(super) id: &'static str,
    pub(super) org: &'static str,
    pub(super) created_at: &'static str,
    pub(super) updated_at: &'static str,
}

const ENDPOINT: EndpointNames = EndpointNames {
    id: "id",
    org: "org",
    created_at: "created_at",
    updated_at: "updated_at",
};

pub(super) fn endpoint_from_row(row: &Row) -> Result<Endpoint, StoreError> {
    endpoint_named(row, &ENDPOINT)
}

pub(super) fn endpoint_named(row: &Row, names: &EndpointNames) -> Result<Endpoint, StoreError> {
    let timeout_ms: i32 = row.get("timeout_ms");
    let rate: Option<i32> = row.get("rate_limit_per_s");
    Ok(Endpoint {
        id: row.get(names.id),
        org: parse_slug(row.get(names.org))?,
        url: row.get("url"),
        description: row.get("description"),
        event_types: row.get("event_types"),
        workflow_ids: row.get("workflow_ids"),
        enabled: row.get("enabled"),
        disabled_reason: row.get("disabled_reason"),
        timeout_ms: u32::try_from(timeout_ms).map_err(corrupt)?,
        rate_limit_per_s: rate.map(u32::try_from).transpose().map_err(corrupt)?,
        retry_schedule: row.get("retry_schedule"),
        failing_since: row.get("failing_since"),
        created_at: row.get(names.created_at),
        updated_at: row.get(names.updated_at),
    })
}

#[async_trait]
impl EndpointStore for PostgresStore {
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let timeout = endpoint.timeout_ms as i32;
        let rate = endpoint.rate_limit_per_s.map(|r| r as i32);
        tx.execute(
            "INSERT INTO endpoints (id, org, url, description, event_types, workflow_ids, enabled,
                                    timeout_ms, rate_limit_per_s, retry_schedule, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &endpoint.id,
                &endpoint.org.as_str(),
                &endpoint.url,
                &endpoint.description,
                &endpoint.event_types,
                &endpoint.workflow_ids,
                &endpoint.enabled,
                &timeout,
                &rate,
                &endpoint.retry_schedule,
                &endpoint.created_at,
                &endpoint.updated_at,
            ],
        )
        .await?;
        insert_secret(&tx, secret).await?;
        insert_audit(&tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints e WHERE e.id = $1 AND e.deleted_at IS NULL"
        );
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn list_endpoints(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        let select = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints e
             WHERE e.org = $1 AND e.deleted_at IS NULL"
        );
        self.keyset_page(
            &select,
            "e.id",
            &[&org.as_str()],
            page,
            endpoint_from_row,
            |e: &Endpoint| &e.id,
        )
        .await
    }

    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let timeout = endpoint.timeout_ms as i32;
        let rate = endpoint.rate_limit_per_s.map(|r| r as i32);
        self.change_audited(
            "UPDATE endpoints SET url = $2, description = $3, event_types = $4, workflow_ids = $5,
                    enabled = $6, disabled_reason = $7, timeout_ms = $8, rate_limit_per_s = $9,
                    retry_schedule = $10, failing_since = $11, updated_at = $12
             WHERE id = $1 AND deleted_at IS NULL",
            &[
                &endpoint.id,
                &endpoint.url,
                &endpoint.description,
                &endpoint.event_types,
                &endpoint.workflow_ids,
                &endpoint.enabled,
                &endpoint.disabled_reason,
                &timeout,
                &rate,
                &endpoint.retry_schedule,
                &endpoint.failing_since,
                &endpoint.updated_at,
            ],
            audit,
        )
        .await
    }

    async fn delete_endpoint(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.change_audited(
                "UPDATE endpoints SET deleted_at = $2, enabled = false WHERE id = $1 AND deleted_at IS NULL",
            &[&id, &at],
            audit,
        )
        .await
    }

    async fn disable_endpoint(
        &self,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        self.change_audited(
            "UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = $3
             WHERE id = $1 AND enabled AND deleted_at IS NULL",
            &[&id, &reason, &at],
            audit,
        )
        .await
    }

    async fn disabled_endpoint_ids(&self, org: &OrgSlug) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id FROM endpoints WHERE org = $1 AND NOT enabled AND deleted_at IS NULL",
                &[&org.as_str()],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}
