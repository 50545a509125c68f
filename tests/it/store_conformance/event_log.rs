//! The ingress event log read back: lists and filters, duplicates counted on the
//! original, expiring bodies, quiet sources.

use super::sources::{audit, event, record_event, run_for, secret, source, source_with_secret};
use crate::conformance;
use chrono::{Duration, Utc};
use hookgate::store::{
    AuditAction, EventDisposition, EventWrite, IngressEventFilter, PageRequest, Store,
};
use std::sync::Arc;

conformance!(
    lists_events_newest_first_across_sources_by_dedup_key_status_and_since,
    duplicates_count_on_the_original_event,
    expired_bodies_stay_listed_and_the_walk_goes_on_after_the_last_one,
    quiet_sources_are_counted_once_nothing_arrived_for_their_quiet_after,
);

fn page(limit: usize) -> PageRequest {
    PageRequest {
        limit,
        before: None,
    }
}

async fn lists_events_newest_first_across_sources_by_dedup_key_status_and_since(
    store: Arc<dyn Store>,
) {
    let (first_source, first_secret) = source_with_secret(store.as_ref()).await;
    let second_source = source(&first_source.org);
    let second_secret = secret(&second_source.id, Utc::now());
    store
        .create_source(
            &second_source,
            &second_secret,
            &audit(&first_source.org, AuditAction::SourceCreated),
        )
        .await
        .unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (source, secret) = if i % 2 == 0 {
            (&first_source, &first_secret)
        } else {
            (&second_source, &second_secret)
        };
        let mut new = event(source, &secret.id, Some(&format!("d-{i}")), now);
        if i == 4 {
            new.disposition = EventDisposition::Ignored;
        }
        let run = (i != 4).then(|| run_for(&new));
        record_event(store.as_ref(), &new, run.as_ref())
            .await
            .unwrap();
        ids.push(new.id);
    }
    let org = &first_source.org;
    let all = store
        .list_ingress_events(org, &IngressEventFilter::default(), &page(3))
        .await
        .unwrap();
    let listed: Vec<&str> = all.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        listed,
        [&ids[4], &ids[3], &ids[2]],
        "newest first, both sources"
    );
    let rest = store
        .list_ingress_events(
            org,
            &IngressEventFilter::default(),
            &PageRequest {
                limit: 3,
                before: all.next.clone(),
            },
        )
        .await
        .unwrap();
    let listed: Vec<&str> = rest.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed, [&ids[1], &ids[0]]);
    assert!(rest.next.is_none());

    let by_key = IngressEventFilter {
        dedup_key: Some("d-3".into()),
        ..IngressEventFilter::default()
    };
    let found = store
        .list_ingress_events(org, &by_key, &page(50))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let found = &found.items[0];
    assert_eq!(found.id, ids[3]);
    assert_eq!(found.source_id, second_source.id);
    assert!(found.run_id.is_some());
    assert_eq!(found.body_bytes, 2);

    let one_source = IngressEventFilter {
        source_id: Some(first_source.id.clone()),
        status: Some(EventDisposition::Accepted),
        ..IngressEventFilter::default()
    };
    let listed = store
        .list_ingress_events(org, &one_source, &page(50))
        .await
        .unwrap();
    let listed: Vec<&str> = listed.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        listed,
        [&ids[2], &ids[0]],
        "the ignored one is filtered out"
    );

    let future = IngressEventFilter {
        since: Some(Utc::now() + Duration::minutes(1)),
        ..IngressEventFilter::default()
    };
    let none = store
        .list_ingress_events(org, &future, &page(50))
        .await
        .unwrap();
    assert!(none.items.is_empty());

    // Every filter together, and the statuses that are not `accepted` (read from their
    // own index in PostgreSQL).
    let ignored = IngressEventFilter {
        source_id: Some(first_source.id.clone()),
        status: Some(EventDisposition::Ignored),
        dedup_key: Some("d-4".into()),
        since: Some(now - Duration::minutes(1)),
    };
    let listed = store
        .list_ingress_events(org, &ignored, &page(50))
        .await
        .unwrap();
    let listed: Vec<&str> = listed.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed, [&ids[4]]);
    let handshakes = IngressEventFilter {
        status: Some(EventDisposition::Handshake),
        ..IngressEventFilter::default()
    };
    let none = store
        .list_ingress_events(org, &handshakes, &page(50))
        .await
        .unwrap();
    assert!(none.items.is_empty());

    let record = store.find_ingress_event(&ids[0]).await.unwrap().unwrap();
    assert_eq!(record.body.as_deref(), Some(b"{}".as_slice()));
    assert_eq!(record.headers["x-github-event"], "push");
}

async fn duplicates_count_on_the_original_event(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    let original = event(&source, &secret.id, Some("k"), now);
    record_event(store.as_ref(), &original, Some(&run_for(&original)))
        .await
        .unwrap();
    // Two later repeats in one batch, one more on its own.
    let repeats: Vec<EventWrite> = [1, 2]
        .into_iter()
        .map(|s| {
            let repeat = event(&source, &secret.id, Some("k"), now + Duration::seconds(s));
            EventWrite {
                run: Some(run_for(&repeat)),
                event: repeat,
            }
        })
        .collect();
    store.record_events(&repeats, None).await.unwrap();
    let last = event(&source, &secret.id, Some("k"), now + Duration::seconds(5));
    record_event(store.as_ref(), &last, Some(&run_for(&last)))
        .await
        .unwrap();
    let record = store
        .find_ingress_event(&original.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.event.duplicates, 3);
    let last_at = record.event.last_duplicate_at.unwrap();
    assert!(
        (last_at - (now + Duration::seconds(5)))
            .num_milliseconds()
            .abs()
            <= 1,
        "{last_at}"
    );
    let listed = store
        .list_ingress_events(&source.org, &IngressEventFilter::default(), &page(50))
        .await
        .unwrap();
    assert_eq!(
        listed.items.len(),
        1,
        "duplicates are not events of their own"
    );
}

async fn expired_bodies_stay_listed_and_the_walk_goes_on_after_the_last_one(store: Arc<dyn Store>) {
    let (source, secret) = source_with_secret(store.as_ref()).await;
    let mut old = Vec::new();
    for i in 0..3 {
        let new = event(&source, &secret.id, Some(&format!("old-{i}")), Utc::now());
        record_event(store.as_ref(), &new, Some(&run_for(&new)))
            .await
            .unwrap();
        old.push(new.id);
    }
    // Ids carry the time they were minted: everything minted after this stays.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let boundary = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let recent = event(&source, &secret.id, Some("recent"), Utc::now());
    record_event(store.as_ref(), &recent, Some(&run_for(&recent)))
        .await
        .unwrap();
    // The relay published those runs (their messages no longer need the bodies).
    let claimed = store
        .claim_outbox(10, Utc::now(), Utc::now() + Duration::seconds(30))
        .await
        .unwrap();
    let published: Vec<String> = claimed.iter().map(|item| item.run_id.clone()).collect();
    store.mark_published(&published, Utc::now()).await.unwrap();

    let first = store.expire_event_bodies(None, boundary, 2).await.unwrap();
    assert_eq!(first.as_deref(), Some(old[1].as_str()), "two, oldest first");
    let second = store
        .expire_event_bodies(first.as_deref(), boundary, 2)
        .await
        .unwrap();
    assert_eq!(second.as_deref(), Some(old[2].as_str()));
    let done = store
        .expire_event_bodies(second.as_deref(), boundary, 2)
        .await
        .unwrap();
    assert_eq!(done, None, "nothing more before the boundary");

    for id in &old {
        let record = store.find_ingress_event(id).await.unwrap().unwrap();
        assert!(record.event.body_expired, "{id}");
        assert_eq!(record.body, None);
        assert_eq!(record.event.body_bytes, 2, "its size is still known");
    }
    let kept = store.find_ingress_event(&recent.id).await.unwrap().unwrap();
    assert!(!kept.event.body_expired);
    assert_eq!(kept.body.as_deref(), Some(b"{}".as_slice()));
    let listed = store
        .list_ingress_events(&source.org, &IngressEventFilter::default(), &page(50))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 4, "expired events stay listed");
}

async fn quiet_sources_are_counted_once_nothing_arrived_for_their_quiet_after(
    store: Arc<dyn Store>,
) {
    let (mut source, secret) = source_with_secret(store.as_ref()).await;
    let now = Utc::now();
    assert_eq!(
        store.count_quiet_sources(now).await.unwrap(),
        0,
        "no quiet_after_s"
    );
    source.quiet_after_s = Some(60);
    store
        .update_source(&source, &audit(&source.org, AuditAction::SourceUpdated))
        .await
        .unwrap();
    assert_eq!(store.count_quiet_sources(now).await.unwrap(), 0);
    let later = now + Duration::seconds(120);
    assert_eq!(
        store.count_quiet_sources(later).await.unwrap(),
        1,
        "nothing since it was created"
    );
    let arrived = event(&source, &secret.id, None, now + Duration::seconds(100));
    record_event(store.as_ref(), &arrived, Some(&run_for(&arrived)))
        .await
        .unwrap();
    assert_eq!(store.count_quiet_sources(later).await.unwrap(), 0);
    let last = store.last_event_at(&[source.id.clone()]).await.unwrap();
    assert_eq!(last.len(), 1);
    assert!((last[0].1 - arrived.received_at).num_milliseconds().abs() <= 1);
    assert!(!source.is_quiet(Some(last[0].1), later));
    assert!(source.is_quiet(Some(last[0].1), later + Duration::seconds(61)));
}
