//! Endpoints, run events, deliveries and the attempt log.

use super::orgs::org;
use crate::conformance;
use bytes::Bytes;
use chrono::{Duration, Utc};
use hookgate::store::{
    Attempt, AttemptRecord, AuditAction, AuditEntry, ClaimLimits, DeliveryStatus, Endpoint,
    HandOff, OrgSlug, RunEvent, RunEventWrite, Store, StoredSecret,
};
use std::sync::Arc;

conformance!(
    run_events_fan_out_to_matching_enabled_endpoints_once_per_event_id,
    due_deliveries_are_claimed_once_and_attempts_move_them_on,
    attempt_bodies_past_retention_are_dropped,
    a_claim_takes_no_more_of_an_endpoint_than_its_room,
    a_batch_of_attempts_moves_every_delivery_and_failing_since_follows_their_order,
    deferred_deliveries_come_back_each_at_its_own_time,
    endpoint_secrets_are_read_for_many_endpoints_at_once,
    deliveries_handed_off_are_written_claimed_and_the_rest_stay_claimable,
);

pub(super) async fn endpoint(
    store: &dyn Store,
    org: &OrgSlug,
    types: &[&str],
    enabled: bool,
) -> Endpoint {
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

pub(super) fn event(org: &OrgSlug, id: &str, event_type: &str) -> RunEvent {
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
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(10), now, lease)
        .await
        .unwrap();
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
            .claim_due_deliveries(&ClaimLimits::total(10), now, lease)
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
        .claim_due_deliveries(&ClaimLimits::total(10), now, lease)
        .await
        .unwrap()
        .is_empty());
    let later = now + Duration::seconds(10);
    assert_eq!(
        store
            .claim_due_deliveries(
                &ClaimLimits::total(10),
                later,
                later + Duration::seconds(60)
            )
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
        .claim_due_deliveries(&ClaimLimits::total(10), now, now + Duration::seconds(60))
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

/// Two endpoints with `n` pending deliveries each, due by `now`.
async fn two_busy_endpoints(store: &dyn Store, n: usize) -> (Endpoint, Endpoint) {
    let acme = org(store, "acme").await;
    let a = endpoint(store, &acme, &[], true).await;
    let b = endpoint(store, &acme, &[], true).await;
    for i in 0..n {
        store
            .record_run_event(&event(&acme, &format!("e{i}"), "run.completed"), None)
            .await
            .unwrap();
    }
    (a, b)
}

fn count_of(due: &[hookgate::store::DueDelivery], endpoint: &Endpoint) -> usize {
    due.iter().filter(|d| d.endpoint.id == endpoint.id).count()
}

async fn a_claim_takes_no_more_of_an_endpoint_than_its_room(store: Arc<dyn Store>) {
    let (a, b) = two_busy_endpoints(store.as_ref(), 5).await;
    let now = Utc::now() + Duration::seconds(1);
    let lease = now + Duration::seconds(60);
    let limits = ClaimLimits {
        total: 10,
        per_endpoint: 2,
        room: vec![(a.id.clone(), 1)],
    };
    let due = store
        .claim_due_deliveries(&limits, now, lease)
        .await
        .unwrap();
    assert_eq!((count_of(&due, &a), count_of(&due, &b)), (1, 2));

    let limits = ClaimLimits {
        total: 10,
        per_endpoint: 10,
        room: vec![(a.id.clone(), 0)],
    };
    let due = store
        .claim_due_deliveries(&limits, now, lease)
        .await
        .unwrap();
    assert_eq!(
        (count_of(&due, &a), count_of(&due, &b)),
        (0, 3),
        "an endpoint without room keeps its deliveries; the rest of b's come"
    );
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(2), now, lease)
        .await
        .unwrap();
    assert_eq!(due.len(), 2, "the total caps the claim");
    assert!(due.iter().all(|d| d.endpoint.id == a.id));
}

async fn a_batch_of_attempts_moves_every_delivery_and_failing_since_follows_their_order(
    store: Arc<dyn Store>,
) {
    let (a, b) = two_busy_endpoints(store.as_ref(), 2).await;
    let now = Utc::now() + Duration::seconds(1);
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(10), now, now + Duration::seconds(60))
        .await
        .unwrap();
    let of = |endpoint: &Endpoint| -> Vec<String> {
        due.iter()
            .filter(|d| d.endpoint.id == endpoint.id)
            .map(|d| d.delivery.id.clone())
            .collect()
    };
    let (of_a, of_b) = (of(&a), of(&b));
    let ok = |id: &str, at| AttemptRecord {
        endpoint_ok: true,
        last_error: None,
        ..attempt_record(id, 1, DeliveryStatus::Delivered, at)
    };
    let failed_at = now + Duration::seconds(2);
    // a: fails, then succeeds (recovered). b: succeeds, then fails (failing since then).
    let records = vec![
        attempt_record(&of_a[0], 1, DeliveryStatus::Pending, now),
        ok(&of_b[0], now),
        ok(&of_a[1], now + Duration::seconds(1)),
        attempt_record(&of_b[1], 1, DeliveryStatus::Failed, failed_at),
    ];
    store.record_attempts(&records).await.unwrap();

    let mut statuses = Vec::new();
    for id in [&of_a[0], &of_a[1], &of_b[0], &of_b[1]] {
        statuses.push(store.find_delivery(id).await.unwrap().unwrap().status);
    }
    use DeliveryStatus::*;
    assert_eq!(statuses, vec![Pending, Delivered, Delivered, Failed]);
    for id in of_a.iter().chain(&of_b) {
        assert_eq!(store.list_attempts(id).await.unwrap().len(), 1, "{id}");
    }
    let a = store.find_endpoint(&a.id).await.unwrap().unwrap();
    let b = store.find_endpoint(&b.id).await.unwrap().unwrap();
    assert_eq!(a.failing_since, None, "recovered within the batch");
    assert_eq!(
        b.failing_since.map(|t| t.timestamp_millis()),
        Some(failed_at.timestamp_millis()),
        "failing since the failure after its success"
    );
}

async fn deferred_deliveries_come_back_each_at_its_own_time(store: Arc<dyn Store>) {
    let (_, _) = two_busy_endpoints(store.as_ref(), 1).await;
    let now = Utc::now() + Duration::seconds(1);
    let lease = now + Duration::seconds(60);
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(10), now, lease)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    let soon = (due[0].delivery.id.clone(), now + Duration::seconds(1));
    let later = (due[1].delivery.id.clone(), now + Duration::seconds(10));
    store
        .defer_deliveries(&[soon.clone(), later.clone()])
        .await
        .unwrap();
    let at = now + Duration::seconds(2);
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(10), at, at + Duration::seconds(60))
        .await
        .unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.delivery.id.clone()).collect();
    assert_eq!(
        ids,
        vec![soon.0],
        "only the one due by now, its claim released"
    );
    let at = now + Duration::seconds(11);
    let due = store
        .claim_due_deliveries(&ClaimLimits::total(10), at, at + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery.id, later.0);
}

async fn endpoint_secrets_are_read_for_many_endpoints_at_once(store: Arc<dyn Store>) {
    let (a, b) = two_busy_endpoints(store.as_ref(), 0).await;
    let secrets = store
        .endpoint_secrets(&[a.id.clone(), b.id.clone()])
        .await
        .unwrap();
    let mut owners: Vec<_> = secrets.iter().map(|s| s.owner_id.clone()).collect();
    owners.sort();
    let mut expect = vec![a.id.clone(), b.id.clone()];
    expect.sort();
    assert_eq!(owners, expect);
    assert!(store.endpoint_secrets(&[]).await.unwrap().is_empty());
}

async fn deliveries_handed_off_are_written_claimed_and_the_rest_stay_claimable(
    store: Arc<dyn Store>,
) {
    let acme = org(store.as_ref(), "acme").await;
    let a = endpoint(store.as_ref(), &acme, &[], true).await;
    let b = endpoint(store.as_ref(), &acme, &[], true).await;
    let batch: Vec<RunEventWrite> = (0..3)
        .map(|i| RunEventWrite {
            event: event(&acme, &format!("e{i}"), "run.completed"),
            only_endpoint: None,
        })
        .collect();
    let now = Utc::now();
    let lease_until = now + Duration::seconds(60);
    let hand_off = HandOff {
        limits: ClaimLimits {
            total: 10,
            per_endpoint: 2,
            room: vec![(b.id.clone(), 1)],
        },
        lease_until,
    };
    let recorded = store
        .record_and_claim_run_events(&batch, Some(&hand_off))
        .await
        .unwrap();
    assert!(recorded.events.iter().all(|e| e.new && e.deliveries == 2));
    assert_eq!(
        (
            count_of(&recorded.claimed, &a),
            count_of(&recorded.claimed, &b)
        ),
        (2, 1),
        "as many of each endpoint's as its room"
    );
    let first = &recorded.claimed[0];
    assert_eq!(first.event, batch[0].event, "the event comes along");
    assert_eq!(first.endpoint.id, a.id, "and the endpoint");
    assert_eq!(first.endpoint.url, a.url);
    let stored = store
        .find_delivery(&first.delivery.id)
        .await
        .unwrap()
        .unwrap();
    let fields = |d: &hookgate::store::Delivery| {
        (
            d.id.clone(),
            d.endpoint_id.clone(),
            d.event_id.clone(),
            d.status,
            d.attempts,
            d.next_attempt_at.map(|t| t.timestamp_millis()),
        )
    };
    assert_eq!(
        fields(&stored),
        fields(&first.delivery),
        "as the store holds it"
    );

    // Everything claimable at `at`, leased for a minute.
    let claim_at = |at: chrono::DateTime<Utc>| {
        let store = Arc::clone(&store);
        async move {
            store
                .claim_due_deliveries(&ClaimLimits::total(10), at, at + Duration::seconds(60))
                .await
                .unwrap()
        }
    };
    let due = claim_at(now + Duration::seconds(1)).await;
    assert_eq!(
        (count_of(&due, &a), count_of(&due, &b)),
        (1, 2),
        "a claim takes only those not handed off"
    );
    let expired = claim_at(lease_until + Duration::seconds(1)).await;
    let mut handed: Vec<&str> = recorded
        .claimed
        .iter()
        .map(|d| d.delivery.id.as_str())
        .collect();
    let mut reclaimed: Vec<&str> = expired.iter().map(|d| d.delivery.id.as_str()).collect();
    handed.sort_unstable();
    reclaimed.sort_unstable();
    assert_eq!(
        reclaimed, handed,
        "handed-off deliveries nobody started are claimed once their lease runs out"
    );

    let replay = store
        .record_and_claim_run_events(&batch[..1], Some(&hand_off))
        .await
        .unwrap();
    assert!(replay.claimed.is_empty() && !replay.events[0].new);
}
