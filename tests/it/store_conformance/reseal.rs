//! Master-key rotation's store operations: counts per key id, the keyset read of the
//! secrets under other keys, and the compare-and-set re-seal with its audit entries.

use super::delivery::endpoint;
use super::orgs::org;
use super::sources::{audit, secret, source};
use crate::conformance;
use chrono::{Duration, Utc};
use hookgate::store::{
    AuditAction, OrgSlug, PageRequest, Reseal, ResealBatch, Rotation, SealedCount, Store,
    StoredSecret,
};
use std::sync::Arc;

conformance!(counts_reads_and_reseals_secrets_by_key_id_with_compare_and_set);

async fn add_secret(store: &dyn Store, org: &OrgSlug, owner: &str, sealed: &str) -> StoredSecret {
    let secret = StoredSecret {
        sealed: sealed.into(),
        ..secret(owner, Utc::now())
    };
    let rotation = Rotation {
        new_secret: secret.clone(),
        previous_expire_at: Utc::now() + Duration::hours(1),
    };
    store
        .rotate_secret(&rotation, &audit(org, AuditAction::SecretRotated))
        .await
        .unwrap();
    secret
}

fn counts(mut counts: Vec<SealedCount>) -> Vec<(Option<String>, u64)> {
    counts.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    counts.into_iter().map(|c| (c.key_id, c.secrets)).collect()
}

fn some(id: &str, n: u64) -> (Option<String>, u64) {
    (Some(id.to_owned()), n)
}

async fn counts_reads_and_reseals_secrets_by_key_id_with_compare_and_set(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let acme = org(store, "acme").await;
    let source = source(&acme);
    let first = StoredSecret {
        sealed: "hgs1.aaaaaaaa.one".into(),
        ..secret(&source.id, Utc::now())
    };
    store
        .create_source(&source, &first, &audit(&acme, AuditAction::SourceCreated))
        .await
        .unwrap();
    let current = add_secret(store, &acme, &source.id, "hgs1.bbbbbbbb.two").await;
    let malformed = add_secret(store, &acme, &source.id, "not-sealed").await;
    let initech = org(store, "initech").await;
    let endpoint = endpoint(store, &initech, &[], true).await;
    let endpoint_secret = store.list_secrets(&endpoint.id).await.unwrap().remove(0);
    assert_eq!(
        counts(store.count_sealed_by_key().await.unwrap()),
        [
            (None, 1),
            some("aaaaaaaa", 1),
            some("bbbbbbbb", 1),
            some("x", 1)
        ]
    );

    let page = store.sealed_elsewhere("bbbbbbbb", None, 2).await.unwrap();
    let got: Vec<(&str, Option<&str>, &str)> = page
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.org.as_ref().map(|o| o.as_str()),
                s.sealed.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (first.id.as_str(), Some("acme"), "hgs1.aaaaaaaa.one"),
            (malformed.id.as_str(), Some("acme"), "not-sealed"),
        ],
        "in id order, without the secret under the current key"
    );
    let rest = store
        .sealed_elsewhere("bbbbbbbb", Some(&malformed.id), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, endpoint_secret.id);
    assert_eq!(rest[0].org.as_ref().map(|o| o.as_str()), Some("initech"));
    assert!(store
        .sealed_elsewhere("bbbbbbbb", Some(&endpoint_secret.id), 2)
        .await
        .unwrap()
        .is_empty());

    let batch = ResealBatch {
        items: vec![
            Reseal {
                id: first.id.clone(),
                org: Some(acme.clone()),
                old: "hgs1.aaaaaaaa.one".into(),
                new: "hgs1.bbbbbbbb.one-again".into(),
            },
            // Sealed anew by someone else since it was read: left as it is.
            Reseal {
                id: endpoint_secret.id.clone(),
                org: Some(initech.clone()),
                old: "hgs1.x.stale".into(),
                new: "hgs1.bbbbbbbb.lost".into(),
            },
        ],
        actor: "operator".into(),
        to_key_id: "bbbbbbbb".into(),
    };
    assert_eq!(
        store.reseal_secrets(&batch).await.unwrap(),
        std::slice::from_ref(&first.id)
    );
    let secrets = store.list_secrets(&source.id).await.unwrap();
    let resealed = secrets.iter().find(|s| s.id == first.id).unwrap();
    assert_eq!(resealed.sealed, "hgs1.bbbbbbbb.one-again");
    assert_eq!(
        store.list_secrets(&endpoint.id).await.unwrap()[0].sealed,
        endpoint_secret.sealed
    );
    assert!(secrets
        .iter()
        .any(|s| s.id == current.id && s.sealed == "hgs1.bbbbbbbb.two"));
    assert_eq!(
        counts(store.count_sealed_by_key().await.unwrap()),
        [(None, 1), some("bbbbbbbb", 2), some("x", 1)]
    );

    let log = store
        .list_audit(&acme, &PageRequest::first(50))
        .await
        .unwrap()
        .items;
    let rekeyed: Vec<_> = log
        .iter()
        .filter(|e| e.action == "master_key.rekeyed")
        .collect();
    assert_eq!(rekeyed.len(), 1);
    assert_eq!(rekeyed[0].target, "bbbbbbbb");
    assert_eq!(
        rekeyed[0].details,
        serde_json::json!({"counts": {"aaaaaaaa": 1}, "to_key_id": "bbbbbbbb"})
    );
    let initech_log = store
        .list_audit(&initech, &PageRequest::first(50))
        .await
        .unwrap()
        .items;
    assert!(
        initech_log.iter().all(|e| e.action != "master_key.rekeyed"),
        "nothing written, nothing audited"
    );
}
