//! Endpoints, run events, deliveries and the attempt log.

use super::orgs::org;
use crate::conformance;
use bytes::Bytes;
use chrono::{Duration, Utc};
use hookgate::store::{
    Attempt, AttemptRecord, AuditAction, AuditEntry, DeliveryStatus, Endpoint, OrgSlug, RunEvent,
    Store, StoredSecret,
};
use std::sync::Arc;

conformance!(
    run_events_fan_out_to_matching_enabled_endpoints_once_per_event_id,
    due_deliveries_are_claimed_once_and_attempts_move_them_on,
    attempt_bodies_past_retention_are_dropped,
);

async fn endpoint(store: &dyn Store, org: &OrgSlug, types: &[&str], enabled: bool) -> Endpoint {
    let now = Utc::now();
    let endpoint = Endpoint {
        id: hookgate::id::new_id("ep"),
        org: org.clone(),
        url: "https://example.com/hooks".into(),
        description: String::new(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
        workflow_ids: vec![],
        enabled,
        disabled_reason: None,
        timeout_ms: 15_000,
        rate_limit_per_s: None,
        retry_schedule: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let secret = StoredSecret {
        id: hookgate::id::new_id("sec"),
        owner_id: endpoint.id.clone(),
        sealed: "hgs1.x.y".into(),
        fingerprint: "00000000".into(),
        created_at: now,
        expires_at: None,
        last_used_at: None,
    };
    let audit = AuditEntry::new(
        org,
        "operator".into(),
        AuditAction::EndpointCreated,
        &endpoint.id,
        serde_json::json!({}),
    );
    store
        .create_endpoint(&endpoint, &secret, &audit)
        .await
        .unwrap();
    endpoint
}

fn event(org: &OrgSlug, id: &str, event_type: &str) -> RunEvent {
    let now = Utc::now();
    RunEvent {
        id: id.into(),
        org: org.clone(),
        event_type: event_type.into(),
        run_id: None,
        workflow_id: Some("wf".into()),
        occurred_at: now,
        data: serde_json::json!({"ok": true}),
        received_at: now,
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
    }
}

fn attempt_record(
    delivery_id: &str,
    attempt: u32,
    status: DeliveryStatus,
    started_at: chrono::DateTime<Utc>,
) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempt {
            delivery_id: delivery_id.into(),
            attempt,
            started_at,
            duration_ms: 12,
            request_url: "https://example.com/hooks".into(),
            request_headers: vec![("webhook-id".into(), "e1".into())],
            response_status: Some(503),
            response_headers: Some(vec![("retry-after".into(), "1".into())]),
            response_body: Some(Bytes::from_static(b"busy")),
            error_class: Some("http_status".into()),
            next_attempt_at: None,
        },
        status,
        next_attempt_at: (status == DeliveryStatus::Pending)
            .then(|| Utc::now() + Duration::seconds(5)),
        last_error: Some("http_status".into()),
        endpoint_ok: false,
    }
}

async fn run_events_fan_out_to_matching_enabled_endpoints_once_per_event_id(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let all = endpoint(store.as_ref(), &acme, &[], true).await;
    let completed = endpoint(store.as_ref(), &acme, &["run.completed"], true).await;
    endpoint(store.as_ref(), &acme, &[], false).await;
    let recorded = store
        .record_run_event(&event(&acme, "e1", "run.completed"), None)
        .await
        .unwrap();
    assert_eq!((recorded.new, recorded.deliveries), (true, 2));
    let replay = store
        .record_run_event(&event(&acme, "e1", "run.completed"), None)
        .await
        .unwrap();
    assert_eq!((replay.new, replay.deliveries), (false, 0));
    let failed = store
        .record_run_event(&event(&acme, "e2", "run.failed"), None)
        .await
        .unwrap();
    assert_eq!(failed.deliveries, 1);
    let only = store
        .record_run_event(&event(&acme, "e3", "run.failed"), Some(&completed.id))
        .await
        .unwrap();
    assert_eq!(
        only.deliveries, 1,
        "a test event goes to its endpoint whatever the filter"
    );
    let _ = all;
}

async fn due_deliveries_are_claimed_once_and_attempts_move_them_on(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    endpoint(store.as_ref(), &acme, &[], true).await;
    store
        .record_run_event(&event(&acme, "e1", "run.completed"), None)
        .await
        .unwrap();
    let now = Utc::now() + Duration::seconds(1);
    let lease = now + Duration::seconds(60);
    let due = store.claim_due_deliveries(10, now, lease).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event.data["ok"], true);
    assert!(due[0]
        .event
        .traceparent
        .as_deref()
        .unwrap()
        .starts_with("00-4bf92f"));
    assert!(
        store
            .claim_due_deliveries(10, now, lease)
            .await
            .unwrap()
            .is_empty(),
        "claimed once"
    );

    let id = due[0].delivery.id.clone();
    store
        .record_attempts(&[attempt_record(&id, 1, DeliveryStatus::Pending, now)])
        .await
        .unwrap();
    let delivery = store.find_delivery(&id).await.unwrap().unwrap();
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.last_status),
        (DeliveryStatus::Pending, 1, Some(503))
    );
    let attempts = store.list_attempts(&id).await.unwrap();
    assert_eq!(
        attempts[0].response_headers.as_ref().unwrap()[0].0,
        "retry-after"
    );
    assert_eq!(attempts[0].response_body.as_deref(), Some(&b"busy"[..]));
    let endpoint = store
        .find_endpoint(&due[0].endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        endpoint.failing_since.is_some(),
        "a failure starts the failing streak"
    );

    // Not due yet; after its next_attempt_at it is claimable again.
    assert!(store
        .claim_due_deliveries(10, now, lease)
        .await
        .unwrap()
        .is_empty());
    let later = now + Duration::seconds(10);
    assert_eq!(
        store
            .claim_due_deliveries(10, later, later + Duration::seconds(60))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn attempt_bodies_past_retention_are_dropped(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    endpoint(store.as_ref(), &acme, &[], true).await;
    store
        .record_run_event(&event(&acme, "e1", "run.completed"), None)
        .await
        .unwrap();
    let now = Utc::now() + Duration::seconds(1);
    let due = store
        .claim_due_deliveries(10, now, now + Duration::seconds(60))
        .await
        .unwrap();
    let id = due[0].delivery.id.clone();
    let old = now - Duration::days(40);
    store
        .record_attempts(&[attempt_record(&id, 1, DeliveryStatus::Pending, old)])
        .await
        .unwrap();
    store
        .record_attempts(&[attempt_record(&id, 2, DeliveryStatus::Failed, now)])
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_attempt_bodies(now - Duration::days(30))
            .await
            .unwrap(),
        1
    );
    let attempts = store.list_attempts(&id).await.unwrap();
    assert!(attempts[0].response_body.is_none(), "old body dropped");
    assert!(attempts[1].response_body.is_some(), "recent body kept");
    assert_eq!(
        attempts[0].response_status,
        Some(503),
        "the rest of the log stays"
    );
}
