//! Sources, secrets with rotation, and recording inbound events.

use super::orgs::org;
use crate::conformance;
use bytes::Bytes;
use chrono::{Duration, Utc};
use hookgate::store::{
    AcceptOutcome, AuditAction, AuditEntry, EventDisposition, EventWrite, NewEvent, NewRun,
    PageRequest, Rejected, Rotation, RunStatus, Source, SourcePatch, Store, StoredSecret,
};
use hookgate::verify::VerifierConfig;
use std::sync::Arc;

conformance!(
    creates_lists_updates_and_deletes_sources,
    rotation_caps_previous_expiry_and_expiry_takes_effect_at_once,
    records_an_event_with_its_run_and_reports_the_duplicate,
    dedup_key_is_free_again_after_its_window,
    ignored_events_create_no_run,
    keeps_only_the_newest_rejections,
    group_commit_records_a_batch_and_catches_duplicates_inside_it,
    claimed_webhook_runs_carry_the_message_built_at_acceptance,
);

/// One event (and its run) as a batch of one: what ingress's group commit does for a
/// batch that holds a single webhook.
pub(super) async fn record_event(
    store: &dyn Store,
    event: &hookgate::store::NewEvent,
    run: Option<&hookgate::store::NewRun>,
) -> Result<hookgate::store::AcceptOutcome, hookgate::store::StoreError> {
    let batch = [hookgate::store::EventWrite {
        event: event.clone(),
        run: run.cloned(),
    }];
    let mut outcomes = store.record_events(&batch, None).await?;
    Ok(outcomes.pop().expect("one outcome per event"))
}

pub(super) fn audit(org: &hookgate::store::OrgSlug, action: AuditAction) -> AuditEntry {
    AuditEntry::new(org, "operator".into(), action, "x", serde_json::json!({}))
}

pub(super) fn source(org: &hookgate::store::OrgSlug) -> Source {
    let now = Utc::now();
    Source {
        id: hookgate::id::new_id("src"),
        org: org.clone(),
        name: "gh".into(),
        workflow_id: "wf".into(),
        verifier: VerifierConfig::Github,
        enabled: true,
        event_filter: vec!["push".into()],
        max_body_bytes: 1024,
        quiet_after_s: None,
        created_at: now,
        updated_at: now,
    }
}

pub(super) fn secret(owner: &str, at: chrono::DateTime<Utc>) -> StoredSecret {
    StoredSecret {
        id: hookgate::id::new_id("sec"),
        owner_id: owner.into(),
        sealed: "hgs1.x.y".into(),
        fingerprint: "abcd1234".into(),
        created_at: at,
        expires_at: None,
        last_used_at: None,
    }
}

pub(super) async fn source_with_secret(store: &dyn Store) -> (Source, StoredSecret) {
    let acme = org(store, "acme").await;
    let source = source(&acme);
    let secret = secret(&source.id, Utc::now());
    store
        .create_source(&source, &secret, &audit(&acme, AuditAction::SourceCreated))
        .await
        .unwrap();
    (source, secret)
}

pub(super) fn event(
    source: &Source,
    secret_id: &str,
    dedup: Option<&str>,
    at: chrono::DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        id: hookgate::id::new_id("evt"),
        org: source.org.clone(),
        source_id: source.id.clone(),
        dedup_key: dedup.map(str::to_owned),
        event_name: Some("push".into()),
        secret_id: secret_id.into(),
        disposition: EventDisposition::Accepted,
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        headers: serde_json::json!({"x-github-event": "push"}),
        body: Bytes::from_static(b"{}"),
        received_at: at,
        dedup_window: std::time::Duration::from_secs(60),
    }
}

pub fn run_for(event: &NewEvent) -> NewRun {
    NewRun {
        id: hookgate::id::new_id("run"),
        org: event.org.clone(),
        workflow_id: "wf".into(),
        trigger_type: "webhook",
        source_id: Some(event.source_id.clone()),
        event_id: Some(event.id.clone()),
        message: Bytes::from_static(b"{\"run\":1}"),
        message_headers: vec![("hookgate-org".into(), event.org.to_string())],
        created_at: event.received_at,
        input: None,
        retry_of: None,
    }
}

async fn creates_lists_updates_and_deletes_sources(store: Arc<dyn Store>) {
    let (mut source, _) = source_with_secret(store.as_ref()).await;
    let found = store.find_source(&source.id).await.unwrap().unwrap();
    assert_eq!(found.verifier, VerifierConfig::Github);
    assert_eq!(found.event_filter, vec!["push".to_owned()]);
    let listed = store
        .list_sources(&source.org, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    SourcePatch {
        enabled: Some(false),
        event_filter: Some(vec![]),
        ..Default::default()
    }
    .apply(&mut source, Utc::now());
    assert!(store
        .update_source(&source, &audit(&source.org, AuditAction::SourceUpdated))
        .await
        .unwrap());
    let updated = store.find_source(&source.id).await.unwrap().unwrap();
    assert!(!updated.enabled && updated.event_filter.is_empty());

    assert!(store
        .delete_source(
            &source.id,
            Utc::now(),
            &audit(&source.org, AuditAction::SourceDeleted)
        )
        .await
        .unwrap());
    assert!(store.find_source(&source.id).await.unwrap().is_none());
    assert!(!store
        .delete_source(
            &source.id,
            Utc::now(),
            &audit(&source.org, AuditAction::SourceDeleted)
        )
        .await
        .unwrap());
    assert!(store
        .list_sources(&source.org, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn rotation_caps_previous_expiry_and_expiry_takes_effect_at_once(store: Arc<dyn Store>) {
    let (source, first) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    let rotation = Rotation {
        new_secret: secret(&source.id, now),
        previous_expire_at: now + Duration::hours(1),
    };
    let previous = store
        .rotate_secret(&rotation, &audit(&source.org, AuditAction::SecretRotated))
        .await
        .unwrap();
    assert_eq!(previous.len(), 1);
    assert_eq!(previous[0].id, first.id);
    let expiry = previous[0].expires_at.unwrap();
    assert!(
        (expiry - (now + Duration::hours(1)))
            .num_milliseconds()
            .abs()
            <= 1
    );

    // A second rotation with a shorter grace shortens, never lengthens, earlier expiries.
    let later = now + Duration::milliseconds(5);
    let again = Rotation {
        new_secret: secret(&source.id, later),
        previous_expire_at: later + Duration::minutes(1),
    };
    let previous = store
        .rotate_secret(&again, &audit(&source.org, AuditAction::SecretRotated))
        .await
        .unwrap();
    assert_eq!(previous.len(), 2);
    let secrets = store.list_secrets(&source.id).await.unwrap();
    assert_eq!(secrets.len(), 3);
    assert_eq!(secrets[0].id, again.new_secret.id, "newest first");
    assert!(secrets[0].expires_at.is_none());
    assert!(secrets[1..]
        .iter()
        .all(|s| s.expires_at.unwrap() <= later + Duration::minutes(1)));

    let at = Utc::now();
    assert!(store
        .expire_secret(
            &source.id,
            &first.id,
            at,
            &audit(&source.org, AuditAction::SecretExpired)
        )
        .await
        .unwrap());
    assert!(!store
        .expire_secret(
            &source.id,
            &first.id,
            at,
            &audit(&source.org, AuditAction::SecretExpired)
        )
        .await
        .unwrap());
    assert!(!store
        .expire_secret(
            "src_other",
            &again.new_secret.id,
            at,
            &audit(&source.org, AuditAction::SecretExpired)
        )
        .await
        .unwrap());
    let secrets = store.list_secrets(&source.id).await.unwrap();
    let expired = secrets.iter().find(|s| s.id == first.id).unwrap();
    assert!(!expired.is_active(at + Duration::milliseconds(1)));
}

async fn records_an_event_with_its_run_and_reports_the_duplicate(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    let first = event(&source, &secret.id, Some("delivery-1"), now);
    let run = run_for(&first);
    assert_eq!(
        record_event(store.as_ref(), &first, Some(&run))
            .await
            .unwrap(),
        AcceptOutcome::Recorded
    );
    let stored = store.find_run(&run.id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Queued);
    assert_eq!(stored.event_id.as_deref(), Some(first.id.as_str()));

    let second = event(
        &source,
        &secret.id,
        Some("delivery-1"),
        now + Duration::seconds(1),
    );
    let outcome = record_event(store.as_ref(), &second, Some(&run_for(&second)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        AcceptOutcome::Duplicate {
            event_id: first.id.clone(),
            run_id: run.id.clone(),
            run_status: RunStatus::Queued
        }
    );
    assert_eq!(
        store.outbox_stats().await.unwrap().backlog,
        1,
        "no second run"
    );
    let secrets = store.list_secrets(&source.id).await.unwrap();
    assert!(
        secrets[0].last_used_at.is_some(),
        "last_used_at moves with use"
    );
}

async fn dedup_key_is_free_again_after_its_window(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let t0 = Utc::now() - Duration::minutes(10);
    let first = event(&source, &secret.id, Some("k"), t0);
    record_event(store.as_ref(), &first, Some(&run_for(&first)))
        .await
        .unwrap();
    let much_later = event(&source, &secret.id, Some("k"), t0 + Duration::minutes(2));
    assert_eq!(
        record_event(store.as_ref(), &much_later, Some(&run_for(&much_later)))
            .await
            .unwrap(),
        AcceptOutcome::Recorded
    );
    assert_eq!(store.outbox_stats().await.unwrap().backlog, 2);
}

async fn ignored_events_create_no_run(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let mut ignored = event(&source, &secret.id, Some("k"), Utc::now());
    ignored.disposition = EventDisposition::Ignored;
    assert_eq!(
        record_event(store.as_ref(), &ignored, None).await.unwrap(),
        AcceptOutcome::Recorded
    );
    assert_eq!(store.outbox_stats().await.unwrap().backlog, 0);
}

async fn keeps_only_the_newest_rejections(store: Arc<dyn Store>) {
    let source_id = "src_1";
    let mut ids = Vec::new();
    for n in 0..5 {
        let rejected = Rejected {
            id: hookgate::id::new_id("rej"),
            source_id: source_id.into(),
            at: Utc::now(),
            reason: format!("reason_{n}"),
            headers_present: vec!["content-type".into(), "x-hub-signature-256".into()],
            detail: format!("detail {n}"),
        };
        ids.push(rejected.id.clone());
        store.record_rejection(&rejected, 3).await.unwrap();
    }
    let kept = store.list_rejections(source_id, 10).await.unwrap();
    let reasons: Vec<&str> = kept.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons, ["reason_4", "reason_3", "reason_2"]);
    assert_eq!(kept[0].detail, "detail 4");
    assert_eq!(
        kept[0].headers_present,
        vec!["content-type".to_owned(), "x-hub-signature-256".to_owned()]
    );
}

async fn group_commit_records_a_batch_and_catches_duplicates_inside_it(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    let write = |dedup: &str| {
        let event = event(&source, &secret.id, Some(dedup), now);
        let run = run_for(&event);
        EventWrite {
            event,
            run: Some(run),
        }
    };
    let batch = vec![write("a"), write("b"), write("a"), write("c")];
    let outcomes = store.record_events(&batch, None).await.unwrap();
    assert_eq!(outcomes[0], AcceptOutcome::Recorded);
    assert_eq!(outcomes[1], AcceptOutcome::Recorded);
    assert_eq!(
        outcomes[2],
        AcceptOutcome::Duplicate {
            event_id: batch[0].event.id.clone(),
            run_id: batch[0].run.as_ref().unwrap().id.clone(),
            run_status: RunStatus::Queued,
        }
    );
    assert_eq!(outcomes[3], AcceptOutcome::Recorded);
    assert_eq!(store.outbox_stats().await.unwrap().backlog, 3);
    assert!(store
        .find_run(&batch[2].run.as_ref().unwrap().id)
        .await
        .unwrap()
        .is_none());
}

/// The relay's claim path (after a crash, or while the broker is down) publishes the
/// same bytes the handoff would have: a store may keep the message in pieces (the
/// PostgreSQL outbox keeps the event body only in `events`), but must give it back whole.
async fn claimed_webhook_runs_carry_the_message_built_at_acceptance(store: Arc<dyn Store>) {
    use hookgate::runs::{run_request, Origin, RunFields};
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    let bodies: [&[u8]; 4] = [
        br#"{"zen":"Design for failure.","hook_id":1,"note":",\"input\":{}"}"#,
        br#"  [1, "two", {"input": 3}]  "#,
        b"payload=%7B%22type%22%3A%22x%22%7D",
        b"",
    ];
    let headers = serde_json::Map::from_iter([("x-github-event".to_owned(), "push".into())]);
    let batch: Vec<EventWrite> = bodies
        .iter()
        .map(|body| {
            let mut event = event(&source, &secret.id, None, now);
            event.body = Bytes::copy_from_slice(body);
            let mut run = run_for(&event);
            run.message = Bytes::from(run_request(&RunFields {
                run_id: &run.id,
                org: source.org.as_str(),
                workflow_id: &run.workflow_id,
                origin: Some(Origin {
                    source_id: &source.id,
                    verifier: "github",
                    event_id: &event.id,
                    replay: false,
                }),
                received_at: now,
                body,
                retry_of: None,
                headers: &headers,
            }));
            EventWrite {
                event,
                run: Some(run),
            }
        })
        .collect();
    store.record_events(&batch, None).await.unwrap();
    let claimed = store
        .claim_outbox(10, Utc::now(), Utc::now() + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), batch.len());
    for write in &batch {
        let run = write.run.as_ref().unwrap();
        let item = claimed.iter().find(|c| c.run_id == run.id).unwrap();
        assert_eq!(item.message, run.message, "run {}", run.id);
        assert_eq!(item.message_headers, run.message_headers);
        assert_eq!(item.workflow_id, run.workflow_id);
    }
}
