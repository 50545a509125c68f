//! Activity counts: instances add up, a window and org filter what is read, old
//! buckets are pruned.

use chrono::{DateTime, Duration, Utc};
use hookgate::store::{activity_bucket, ActivityCount, ActivityTotal, OrgSlug, Store};
use std::sync::Arc;

fn count(org: &str, subject: &str, bucket: DateTime<Utc>, outcome: &str, n: u64) -> ActivityCount {
    ActivityCount {
        org: OrgSlug::parse(org).unwrap(),
        subject_id: subject.into(),
        bucket,
        outcome: outcome.into(),
        count: n,
    }
}

fn total(subject: &str, outcome: &str, n: u64) -> ActivityTotal {
    ActivityTotal {
        subject_id: subject.into(),
        outcome: outcome.into(),
        count: n,
    }
}

async fn counts_from_every_instance_add_up_within_the_window_and_org(store: Arc<dyn Store>) {
    let now = activity_bucket(Utc::now());
    let old = now - Duration::hours(2);
    // Two instances flush the same keys; one also has an older bucket and another org.
    store
        .add_activity(&[
            count("acme", "src_a", now, "accepted", 3),
            count("acme", "src_a", now, "rejected", 1),
            count("acme", "src_a", old, "accepted", 100),
            count("other", "src_o", now, "accepted", 7),
        ])
        .await
        .unwrap();
    store
        .add_activity(&[
            count("acme", "src_a", now, "accepted", 2),
            count("acme", "ep_b", now - Duration::minutes(5), "delivered", 4),
        ])
        .await
        .unwrap();
    store.add_activity(&[]).await.unwrap();
    let acme = [OrgSlug::parse("acme").unwrap()];
    let since = now - Duration::hours(1);
    assert_eq!(
        store.activity_since(&acme, since).await.unwrap(),
        vec![
            total("ep_b", "delivered", 4),
            total("src_a", "accepted", 5),
            total("src_a", "rejected", 1),
        ]
    );
    let both = [acme[0].clone(), OrgSlug::parse("other").unwrap()];
    let mut seen = store.activity_since(&both, since).await.unwrap();
    seen.sort_by(|a, b| {
        a.subject_id
            .cmp(&b.subject_id)
            .then(a.outcome.cmp(&b.outcome))
    });
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3], total("src_o", "accepted", 7));

    assert_eq!(
        store
            .prune_activity(now - Duration::hours(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.activity_since(&acme, old).await.unwrap()[1],
        total("src_a", "accepted", 5)
    );
}

crate::conformance!(counts_from_every_instance_add_up_within_the_window_and_org);
