//! Runs: trigger idempotency and the outbox the relay drains.

use super::orgs::org;
use crate::conformance;
use bytes::Bytes;
use chrono::{Duration, Utc};
use hookgate::store::{
    Idempotency, NewRun, OrgSlug, PageRequest, RunFilter, RunStatus, Store, TriggerOutcome,
};
use std::collections::HashSet;
use std::sync::Arc;

conformance!(
    trigger_with_the_same_key_returns_the_first_run_and_refuses_another_body,
    claims_lease_rows_once_until_they_are_published_or_released,
    expired_claims_are_taken_over,
    concurrent_claims_never_share_a_row,
    lists_runs_by_status_and_workflow,
);

pub(super) fn api_run(org: &OrgSlug, workflow: &str) -> NewRun {
    NewRun {
        id: hookgate::id::new_id("run"),
        org: org.clone(),
        workflow_id: workflow.into(),
        trigger_type: "api",
        source_id: None,
        event_id: None,
        message: Bytes::from_static(b"{\"input\":{}}"),
        message_headers: vec![
            ("traceparent".into(), "00-abc".into()),
            ("hookgate-org".into(), org.to_string()),
        ],
        created_at: Utc::now(),
        input: Some(Bytes::from_static(b"{}")),
        retry_of: None,
    }
}

fn key(key: &str, hash: &str) -> Idempotency {
    Idempotency {
        key: key.into(),
        body_hash: hash.into(),
    }
}

async fn trigger_with_the_same_key_returns_the_first_run_and_refuses_another_body(
    store: Arc<dyn Store>,
) {
    let acme = org(store.as_ref(), "acme").await;
    let first = api_run(&acme, "wf");
    assert_eq!(
        store
            .trigger_run(&first, Some(&key("k1", "h1")))
            .await
            .unwrap(),
        TriggerOutcome::Created
    );
    match store
        .trigger_run(&api_run(&acme, "wf"), Some(&key("k1", "h1")))
        .await
        .unwrap()
    {
        TriggerOutcome::Replayed(run) => assert_eq!(run.id, first.id),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .trigger_run(&api_run(&acme, "wf"), Some(&key("k1", "h2")))
            .await
            .unwrap(),
        TriggerOutcome::KeyReused
    );
    let other_org = org(store.as_ref(), "globex").await;
    assert_eq!(
        store
            .trigger_run(&api_run(&other_org, "wf"), Some(&key("k1", "h1")))
            .await
            .unwrap(),
        TriggerOutcome::Created
    );
    assert_eq!(
        store
            .trigger_run(&api_run(&acme, "wf"), None)
            .await
            .unwrap(),
        TriggerOutcome::Created
    );
    assert_eq!(
        store.outbox_stats().await.unwrap().backlog,
        3,
        "replays and refusals add no run"
    );
}

async fn claims_lease_rows_once_until_they_are_published_or_released(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let runs: Vec<NewRun> = (0..5).map(|_| api_run(&acme, "wf")).collect();
    for run in &runs {
        store.trigger_run(run, None).await.unwrap();
    }
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!(stats.backlog, 5);
    assert!(stats.oldest_enqueued_at.is_some());

    let now = Utc::now();
    let lease = now + Duration::seconds(30);
    let claimed = store.claim_outbox(3, now, lease).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(claimed[0].run_id, runs[0].id, "oldest first");
    assert_eq!(claimed[0].message, runs[0].message);
    assert!(claimed[0]
        .message_headers
        .contains(&("hookgate-org".into(), "acme".into())));
    let rest = store.claim_outbox(10, now, lease).await.unwrap();
    assert_eq!(rest.len(), 2, "claimed rows are not claimed again");
    assert!(store.claim_outbox(10, now, lease).await.unwrap().is_empty());

    let published: Vec<String> = claimed.iter().map(|c| c.run_id.clone()).collect();
    store.mark_published(&published, Utc::now()).await.unwrap();
    assert_eq!(
        store.find_run(&published[0]).await.unwrap().unwrap().status,
        RunStatus::Published
    );
    assert!(store
        .find_run(&published[0])
        .await
        .unwrap()
        .unwrap()
        .published_at
        .is_some());
    let released: Vec<String> = rest.iter().map(|c| c.run_id.clone()).collect();
    store.release_claims(&released).await.unwrap();
    let again = store.claim_outbox(10, Utc::now(), lease).await.unwrap();
    let again: HashSet<String> = again.into_iter().map(|c| c.run_id).collect();
    assert_eq!(again, released.into_iter().collect());
    assert_eq!(store.outbox_stats().await.unwrap().backlog, 2);
}

async fn expired_claims_are_taken_over(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    store
        .trigger_run(&api_run(&acme, "wf"), None)
        .await
        .unwrap();
    let now = Utc::now();
    assert_eq!(
        store
            .claim_outbox(10, now, now + Duration::seconds(1))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .claim_outbox(10, now, now + Duration::seconds(1))
        .await
        .unwrap()
        .is_empty());
    let after_lease = now + Duration::seconds(2);
    assert_eq!(
        store
            .claim_outbox(10, after_lease, after_lease + Duration::seconds(1))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn concurrent_claims_never_share_a_row(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    for _ in 0..60 {
        store
            .trigger_run(&api_run(&acme, "wf"), None)
            .await
            .unwrap();
    }
    let now = Utc::now();
    let lease = now + Duration::seconds(30);
    let claims = (0..6).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.claim_outbox(10, now, lease).await.unwrap() })
    });
    let mut seen = HashSet::new();
    for claim in claims {
        for item in claim.await.unwrap() {
            assert!(seen.insert(item.run_id), "a row was claimed twice");
        }
    }
    assert_eq!(seen.len(), 60);
}

async fn lists_runs_by_status_and_workflow(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let a = api_run(&acme, "wf_a");
    let b = api_run(&acme, "wf_b");
    store.trigger_run(&a, None).await.unwrap();
    store.trigger_run(&b, None).await.unwrap();
    store
        .mark_published(std::slice::from_ref(&a.id), Utc::now())
        .await
        .unwrap();
    let by_status = RunFilter {
        status: Some(RunStatus::Published),
        workflow_id: None,
    };
    let listed = store
        .list_runs(&acme, &by_status, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [a.id.as_str()]
    );
    let by_workflow = RunFilter {
        status: None,
        workflow_id: Some("wf_b".into()),
    };
    let listed = store
        .list_runs(&acme, &by_workflow, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].status, RunStatus::Queued);
    // Queued: the run still waiting for the broker, and not the published one.
    let queued = RunFilter {
        status: Some(RunStatus::Queued),
        workflow_id: None,
    };
    let listed = store
        .list_runs(&acme, &queued, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [b.id.as_str()]
    );
    let first_page = store
        .list_runs(&acme, &RunFilter::default(), &PageRequest::first(1))
        .await
        .unwrap();
    assert!(first_page.next.is_some());
}
