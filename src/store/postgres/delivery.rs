//! Endpoints, run events, deliveries and attempts in PostgreSQL.

use super::sources::insert_secret;
use super::{insert_audit, PostgresStore};
use crate::id::new_id;
use crate::store::{
    parse_slug, Attempt, AttemptRecord, AuditEntry, Delivery, DeliveryFilter, DeliveryStatus,
    DeliveryStore, DueDelivery, Endpoint, OrgSlug, Page, PageRequest, RecordedRunEvent, RunEvent,
    RunStatus, StoreError, StoredSecret,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const ENDPOINT_COLUMNS: &str = "e.id, e.org, e.url, e.description, e.event_types, e.workflow_ids, \
     e.enabled, e.disabled_reason, e.timeout_ms, e.rate_limit_per_s, e.retry_schedule, \
     e.failing_since, e.created_at, e.updated_at";
const DELIVERY_COLUMNS: &str = "d.id, d.org, d.endpoint_id, d.event_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn endpoint_from_row(row: &Row) -> Result<Endpoint, StoreError> {
    let timeout_ms: i32 = row.get("timeout_ms");
    let rate: Option<i32> = row.get("rate_limit_per_s");
    Ok(Endpoint {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
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
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn delivery_from_row(row: &Row) -> Result<Delivery, StoreError> {
    let status: String = row.get("status");
    let attempts: i32 = row.get("attempts");
    let last_status: Option<i32> = row.get("last_status");
    Ok(Delivery {
        id: row.get("id"),
        org: parse_slug(row.get("org"))?,
        endpoint_id: row.get("endpoint_id"),
        event_id: row.get("event_id"),
        event_type: row.get("event_type"),
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("status {status:?}")))?,
        attempts: u32::try_from(attempts).map_err(corrupt)?,
        next_attempt_at: row.get("next_attempt_at"),
        last_status: last_status
            .map(u16::try_from)
            .transpose()
            .map_err(corrupt)?,
        last_error: row.get("last_error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn headers_json(headers: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Array(
        headers
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect(),
    )
}

fn headers_from_json(value: &serde_json::Value) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|pair| {
                    Some((
                        pair.get(0)?.as_str()?.to_owned(),
                        pair.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl DeliveryStore for PostgresStore {
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
        let client = self.client().await?;
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints e
             WHERE e.org = $1 AND e.deleted_at IS NULL AND ($2::text IS NULL OR e.id < $2)
             ORDER BY e.id DESC LIMIT $3"
        );
        let limit = page.limit as i64 + 1;
        let rows = client
            .query(&sql, &[&org.as_str(), &page.before, &limit])
            .await?;
        let endpoints = rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(
            endpoints,
            page.limit,
            |e: &Endpoint| &e.id,
        ))
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

    async fn record_run_event(
        &self,
        event: &RunEvent,
        only_endpoint: Option<&str>,
    ) -> Result<RecordedRunEvent, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO run_events (org, id, type, run_id, workflow_id, occurred_at, data, received_at,
                                         traceparent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (org, id) DO NOTHING",
                &[
                    &event.org.as_str(),
                    &event.id,
                    &event.event_type,
                    &event.run_id,
                    &event.workflow_id,
                    &event.occurred_at,
                    &event.data,
                    &event.received_at,
                    &event.traceparent,
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(RecordedRunEvent {
                new: false,
                deliveries: 0,
            });
        }
        let rows = tx
            .query(
                "SELECT id FROM endpoints
                 WHERE org = $1 AND enabled AND deleted_at IS NULL
                   AND (($4::text IS NULL
                         AND (cardinality(event_types) = 0 OR $2 = ANY(event_types))
                         AND (cardinality(workflow_ids) = 0 OR $3 = ANY(workflow_ids)))
                        OR id = $4)",
                &[
                    &event.org.as_str(),
                    &event.event_type,
                    &event.workflow_id,
                    &only_endpoint,
                ],
            )
            .await?;
        for row in &rows {
            let endpoint_id: String = row.get(0);
            tx.execute(
                "INSERT INTO deliveries (id, org, endpoint_id, event_id, event_type, status, attempts,
                                         next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6)",
                &[&new_id("dlv"), &event.org.as_str(), &endpoint_id, &event.id, &event.event_type, &event.received_at],
            )
            .await?;
        }
        if let (Some(status), Some(run_id)) =
            (RunStatus::after_event(&event.event_type), &event.run_id)
        {
            let status = status.as_str();
            tx.execute(
                "UPDATE runs SET status = $3, updated_at = $4 WHERE id = $1 AND org = $2",
                &[run_id, &event.org.as_str(), &status, &event.received_at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(RecordedRunEvent {
            new: true,
            deliveries: rows.len(),
        })
    }

    async fn claim_due_deliveries(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "WITH due AS (
                 SELECT id FROM deliveries
                 WHERE status = 'pending' AND next_attempt_at <= $1
                   AND (claim_expires_at IS NULL OR claim_expires_at < $1)
                   AND EXISTS (SELECT 1 FROM endpoints e
                               WHERE e.id = deliveries.endpoint_id AND e.enabled)
                 ORDER BY next_attempt_at LIMIT $2
                 FOR UPDATE SKIP LOCKED
             ), claimed AS (
                 UPDATE deliveries SET claim_expires_at = $3 FROM due
                 WHERE deliveries.id = due.id RETURNING deliveries.*
             )
             SELECT {DELIVERY_COLUMNS}, {ENDPOINT_COLUMNS},
                    v.type AS v_type, v.run_id AS v_run_id, v.workflow_id AS v_workflow_id,
                    v.occurred_at AS v_occurred_at, v.data AS v_data, v.received_at AS v_received_at,
                    v.traceparent AS v_traceparent
             FROM claimed d
             JOIN endpoints e ON e.id = d.endpoint_id
             JOIN run_events v ON v.org = d.org AND v.id = d.event_id
             ORDER BY d.next_attempt_at"
        )
        .replace("e.id, e.org,", "e.id AS e_id, e.org AS e_org,")
        .replace(
            "e.created_at, e.updated_at",
            "e.created_at AS e_created_at, e.updated_at AS e_updated_at",
        );
        let rows = client
            .query(&sql, &[&now, &(limit as i64), &lease_until])
            .await?;
        rows.iter()
            .map(|row| {
                let delivery = delivery_from_row(row)?;
                let timeout_ms: i32 = row.get("timeout_ms");
                let rate: Option<i32> = row.get("rate_limit_per_s");
                let endpoint = Endpoint {
                    id: row.get("e_id"),
                    org: parse_slug(row.get("e_org"))?,
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
                    created_at: row.get("e_created_at"),
                    updated_at: row.get("e_updated_at"),
                };
                let event = RunEvent {
                    id: delivery.event_id.clone(),
                    org: delivery.org.clone(),
                    event_type: row.get("v_type"),
                    run_id: row.get("v_run_id"),
                    workflow_id: row.get("v_workflow_id"),
                    occurred_at: row.get("v_occurred_at"),
                    data: row.get("v_data"),
                    received_at: row.get("v_received_at"),
                    traceparent: row.get("v_traceparent"),
                };
                Ok(DueDelivery {
                    delivery,
                    event,
                    endpoint,
                })
            })
            .collect()
    }

    async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare(
                "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, request_url,
                     request_headers, response_status, response_headers, response_body, error_class,
                     next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .await?;
        let update = tx
            .prepare(
                "UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4,
                        claim_expires_at = NULL, last_status = $5, last_error = $6, updated_at = $7
                 WHERE id = $1
                 RETURNING endpoint_id",
            )
            .await?;
        for record in records {
            let a = &record.attempt;
            let status = a.response_status.map(i32::from);
            let response_headers = a.response_headers.as_deref().map(headers_json);
            let body = a.response_body.as_ref().map(|b| b.to_vec());
            tx.execute(
                &insert,
                &[
                    &a.delivery_id,
                    &(a.attempt as i32),
                    &a.started_at,
                    &(a.duration_ms as i32),
                    &a.request_url,
                    &headers_json(&a.request_headers),
                    &status,
                    &response_headers,
                    &body,
                    &a.error_class,
                    &a.next_attempt_at,
                ],
            )
            .await?;
            let updated_at =
                a.started_at + chrono::Duration::milliseconds(i64::from(a.duration_ms));
            let row = tx
                .query_one(
                    &update,
                    &[
                        &a.delivery_id,
                        &record.status.as_str(),
                        &(a.attempt as i32),
                        &record.next_attempt_at,
                        &status,
                        &record.last_error,
                        &updated_at,
                    ],
                )
                .await?;
            let endpoint_id: String = row.get(0);
            if record.endpoint_ok {
                tx.execute(
                    "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                    &[&endpoint_id],
                )
                .await?;
            } else {
                tx.execute(
                    "UPDATE endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
                    &[&endpoint_id, &a.started_at],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1");
        let row = client.query_opt(&sql, &[&id]).await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn list_attempts(&self, delivery_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT delivery_id, attempt, started_at, duration_ms, request_url, request_headers,
                        response_status, response_headers, response_body, error_class, next_attempt_at
                 FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
                &[&delivery_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let attempt: i32 = row.get("attempt");
                let duration: i32 = row.get("duration_ms");
                let status: Option<i32> = row.get("response_status");
                let response_headers: Option<serde_json::Value> = row.get("response_headers");
                let body: Option<Vec<u8>> = row.get("response_body");
                Ok(Attempt {
                    delivery_id: row.get("delivery_id"),
                    attempt: u32::try_from(attempt).map_err(corrupt)?,
                    started_at: row.get("started_at"),
                    duration_ms: u32::try_from(duration).map_err(corrupt)?,
                    request_url: row.get("request_url"),
                    request_headers: headers_from_json(&row.get("request_headers")),
                    response_status: status.map(u16::try_from).transpose().map_err(corrupt)?,
                    response_headers: response_headers.as_ref().map(headers_from_json),
                    response_body: body.map(Bytes::from),
                    error_class: row.get("error_class"),
                    next_attempt_at: row.get("next_attempt_at"),
                })
            })
            .collect()
    }

    async fn list_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.org = $1 AND ($2::text IS NULL OR d.endpoint_id = $2)
               AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR d.event_type = $4)
               AND ($5::timestamptz IS NULL OR d.created_at >= $5)
               AND ($6::text IS NULL OR d.id < $6)
             ORDER BY d.id DESC LIMIT $7"
        );
        let status = filter.status.map(DeliveryStatus::as_str);
        let limit = page.limit as i64 + 1;
        let rows = client
            .query(
                &sql,
                &[
                    &org.as_str(),
                    &filter.endpoint_id,
                    &status,
                    &filter.event_type,
                    &filter.since,
                    &page.before,
                    &limit,
                ],
            )
            .await?;
        let deliveries = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(
            deliveries,
            page.limit,
            |d: &Delivery| &d.id,
        ))
    }

    async fn retry_deliveries(
        &self,
        org: &OrgSlug,
        filter: &DeliveryFilter,
        delivery_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let status = filter.status.map(DeliveryStatus::as_str);
        let count = client
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $7, claim_expires_at = NULL,
                        updated_at = $7
                 WHERE org = $1 AND (status <> 'delivered' OR $6::text IS NOT NULL)
                   AND ($2::text IS NULL OR endpoint_id = $2) AND ($3::text IS NULL OR status = $3)
                   AND ($4::text IS NULL OR event_type = $4) AND ($5::timestamptz IS NULL OR created_at >= $5)
                   AND ($6::text IS NULL OR id = $6)",
                &[&org.as_str(), &filter.endpoint_id, &status, &filter.event_type, &filter.since, &delivery_id, &now],
            )
            .await?;
        Ok(count)
    }

    async fn defer_deliveries(
        &self,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE deliveries SET next_attempt_at = $2, claim_expires_at = NULL
                 WHERE id = ANY($1) AND status = 'pending'",
                &[&ids, &until],
            )
            .await?;
        Ok(())
    }

    async fn purge_attempt_bodies(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE delivery_attempts SET response_body = NULL
                 WHERE started_at < $1 AND response_body IS NOT NULL",
                &[&before],
            )
            .await?)
    }
}
