//! Endpoints in SQLite: where run events are delivered, and their on/off state.

use super::keyset::keyset_page;
use super::secrets::insert_secret;
use super::{
    change_audited, corrupt, from_millis, insert_audit, millis, optional_time, query_all, to_json,
    EmbeddedStore,
};
use crate::store::{
    parse_slug, AuditEntry, Endpoint, EndpointStore, OrgSlug, Page, PageRequest, StoreError,
    StoredSecret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

pub(super) const ENDPOINT_COLUMNS: &str = "id, org, url, description, event_types, workflow_ids, enabled, \
     disabled_reason, timeout_ms, rate_limit_per_s, retry_schedule, failing_since, created_at, updated_at";

fn json_list(value: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(value).map_err(corrupt)
}

pub(super) fn endpoint_from_row(row: &Row<'_>) -> Result<Endpoint, StoreError> {
    Ok(Endpoint {
        id: row.get("id")?,
        org: parse_slug(&row.get::<_, String>("org")?)?,
        url: row.get("url")?,
        description: row.get("description")?,
        event_types: json_list(&row.get::<_, String>("event_types")?)?,
        workflow_ids: json_list(&row.get::<_, String>("workflow_ids")?)?,
        enabled: row.get("enabled")?,
        disabled_reason: row.get("disabled_reason")?,
        timeout_ms: row.get("timeout_ms")?,
        rate_limit_per_s: row.get("rate_limit_per_s")?,
        retry_schedule: row.get("retry_schedule")?,
        failing_since: optional_time(row.get("failing_since")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

fn find_endpoint(conn: &Connection, id: &str) -> Result<Option<Endpoint>, StoreError> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1 AND deleted_at IS NULL");
    Ok(query_all(conn, &sql, params![id], endpoint_from_row)?.pop())
}

#[async_trait]
impl EndpointStore for EmbeddedStore {
    async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        secret: &StoredSecret,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (endpoint, secret, audit) = (endpoint.clone(), secret.clone(), audit.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO endpoints (id, org, url, description, event_types, workflow_ids, enabled,
                                        timeout_ms, rate_limit_per_s, retry_schedule, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    endpoint.id,
                    endpoint.org.as_str(),
                    endpoint.url,
                    endpoint.description,
                    to_json(&endpoint.event_types)?,
                    to_json(&endpoint.workflow_ids)?,
                    endpoint.enabled,
                    endpoint.timeout_ms,
                    endpoint.rate_limit_per_s,
                    endpoint.retry_schedule,
                    millis(&endpoint.created_at),
                    millis(&endpoint.updated_at),
                ],
            )?;
            insert_secret(&tx, &secret)?;
            insert_audit(&tx, &audit)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn find_endpoint(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| find_endpoint(conn, &id)).await
    }

    async fn list_endpoints(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        let (org, page) = (org.clone(), page.clone());
        self.with_conn(move |conn| {
            let select = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE org = ?1 AND deleted_at IS NULL"
            );
            keyset_page(
                conn,
                &select,
                params![org.as_str()],
                &page,
                endpoint_from_row,
                |e: &Endpoint| &e.id,
            )
        })
        .await
    }

    async fn update_endpoint(
        &self,
        endpoint: &Endpoint,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (endpoint, audit) = (endpoint.clone(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET url = ?2, description = ?3, event_types = ?4, workflow_ids = ?5,
                        enabled = ?6, disabled_reason = ?7, timeout_ms = ?8, rate_limit_per_s = ?9,
                        retry_schedule = ?10, failing_since = ?11, updated_at = ?12
                 WHERE id = ?1 AND deleted_at IS NULL",
                params![
                    endpoint.id,
                    endpoint.url,
                    endpoint.description,
                    to_json(&endpoint.event_types)?,
                    to_json(&endpoint.workflow_ids)?,
                    endpoint.enabled,
                    endpoint.disabled_reason,
                    endpoint.timeout_ms,
                    endpoint.rate_limit_per_s,
                    endpoint.retry_schedule,
                    endpoint.failing_since.as_ref().map(millis),
                    millis(&endpoint.updated_at),
                ],
                &audit,
            )
        })
        .await
    }

    async fn delete_endpoint(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, audit) = (id.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET deleted_at = ?2, enabled = 0 WHERE id = ?1 AND deleted_at IS NULL",
                params![id, millis(&at)],
                &audit,
            )
        })
        .await
    }

    async fn disable_endpoint(
        &self,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let (id, reason, audit) = (id.to_owned(), reason.to_owned(), audit.clone());
        self.with_conn(move |conn| {
            change_audited(
                conn,
                "UPDATE endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
                 WHERE id = ?1 AND enabled = 1 AND deleted_at IS NULL",
                params![id, reason, millis(&at)],
                &audit,
            )
        })
        .await
    }

    async fn disabled_endpoint_ids(&self, org: &OrgSlug) -> Result<Vec<String>, StoreError> {
        let org = org.as_str().to_owned();
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id FROM endpoints WHERE org = ?1 AND enabled = 0 AND deleted_at IS NULL",
            )?;
            let ids = statement
                .query_map(params![org], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
        .await
    }
}
