//! Orgs, API keys and the audit log.

use chrono::Utc;
use hookgate::auth::Scope;
use hookgate::store::{
    ApiKey, AuditAction, AuditEntry, Org, OrgSlug, PageRequest, Store, StoreError,
};
use std::sync::Arc;

use crate::conformance;

conformance!(
    creates_and_finds_orgs,
    refuses_a_second_org_with_the_same_slug,
    finds_api_keys_by_hash_and_id,
    revokes_an_api_key_once_and_audits_it,
    lists_api_keys_newest_first_across_pages,
    keeps_each_orgs_audit_log_separate,
    rejects_duplicate_key_hashes,
);

pub fn slug(value: &str) -> OrgSlug {
    OrgSlug::parse(value).unwrap()
}

pub async fn org(store: &dyn Store, value: &str) -> OrgSlug {
    let org = Org {
        slug: slug(value),
        name: value.to_uppercase(),
        created_at: Utc::now(),
    };
    let audit = AuditEntry::new(
        &org.slug,
        "operator".into(),
        AuditAction::OrgCreated,
        value,
        serde_json::json!({}),
    );
    store.create_org(&org, &audit).await.unwrap();
    org.slug
}

fn key(org: &OrgSlug, scopes: &[Scope]) -> ApiKey {
    ApiKey {
        id: hookgate::id::new_id("key"),
        org: org.clone(),
        name: "ci".into(),
        scopes: scopes.to_vec(),
        created_at: Utc::now(),
        revoked_at: None,
    }
}

fn minted(org: &OrgSlug, key: &ApiKey) -> AuditEntry {
    AuditEntry::new(
        org,
        "operator".into(),
        AuditAction::ApiKeyMinted,
        &key.id,
        serde_json::json!({}),
    )
}

async fn creates_and_finds_orgs(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let found = store.find_org(&acme).await.unwrap().unwrap();
    assert_eq!(found.name, "ACME");
    assert!(store.find_org(&slug("nobody")).await.unwrap().is_none());
    store.ping().await.unwrap();
}

async fn refuses_a_second_org_with_the_same_slug(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let again = Org {
        slug: acme.clone(),
        name: "Other".into(),
        created_at: Utc::now(),
    };
    let audit = AuditEntry::new(
        &acme,
        "operator".into(),
        AuditAction::OrgCreated,
        "acme",
        serde_json::json!({}),
    );
    let error = store.create_org(&again, &audit).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    // The failed create wrote no audit entry.
    let audit = store
        .list_audit(&acme, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
}

async fn finds_api_keys_by_hash_and_id(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let api_key = key(&acme, &[Scope::AuditRead, Scope::RunTrigger]);
    store
        .insert_api_key(&api_key, "hash-1", &minted(&acme, &api_key))
        .await
        .unwrap();
    let found = store.find_api_key_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(
        found,
        ApiKey {
            created_at: found.created_at,
            ..api_key.clone()
        }
    );
    // Both backends keep at least millisecond precision.
    assert!(
        (found.created_at - api_key.created_at)
            .num_milliseconds()
            .abs()
            < 1
    );
    assert_eq!(
        store
            .find_api_key(&api_key.id)
            .await
            .unwrap()
            .unwrap()
            .scopes,
        api_key.scopes
    );
    assert!(store
        .find_api_key_by_hash("hash-2")
        .await
        .unwrap()
        .is_none());
    assert!(store.find_api_key("key_missing").await.unwrap().is_none());
}

async fn revokes_an_api_key_once_and_audits_it(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let api_key = key(&acme, &[]);
    store
        .insert_api_key(&api_key, "hash-1", &minted(&acme, &api_key))
        .await
        .unwrap();
    let revoke = AuditEntry::new(
        &acme,
        "operator".into(),
        AuditAction::ApiKeyRevoked,
        &api_key.id,
        serde_json::json!({}),
    );
    assert!(store
        .revoke_api_key(&api_key.id, Utc::now(), &revoke)
        .await
        .unwrap());
    let again = AuditEntry::new(
        &acme,
        "operator".into(),
        AuditAction::ApiKeyRevoked,
        &api_key.id,
        serde_json::json!({}),
    );
    assert!(!store
        .revoke_api_key(&api_key.id, Utc::now(), &again)
        .await
        .unwrap());
    let found = store.find_api_key_by_hash("hash-1").await.unwrap().unwrap();
    assert!(found.revoked_at.is_some());
    let actions: Vec<String> = store
        .list_audit(&acme, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["api_key_revoked", "api_key_minted", "org_created"]
    );
}

async fn lists_api_keys_newest_first_across_pages(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let api_key = key(&acme, &[]);
        store
            .insert_api_key(&api_key, &format!("hash-{n}"), &minted(&acme, &api_key))
            .await
            .unwrap();
        ids.push(api_key.id);
        // ids are time-ordered at millisecond resolution
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    ids.reverse();
    let first = store
        .list_api_keys(&acme, &PageRequest::first(2))
        .await
        .unwrap();
    let second = store
        .list_api_keys(
            &acme,
            &PageRequest {
                limit: 2,
                before: first.next.clone(),
            },
        )
        .await
        .unwrap();
    let third = store
        .list_api_keys(
            &acme,
            &PageRequest {
                limit: 2,
                before: second.next.clone(),
            },
        )
        .await
        .unwrap();
    let listed: Vec<String> = [first.items, second.items, third.items.clone()]
        .concat()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(third.items.len(), 1);
    assert_eq!(third.next, None);
}

async fn keeps_each_orgs_audit_log_separate(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let other = org(store.as_ref(), "other").await;
    let api_key = key(&other, &[]);
    store
        .insert_api_key(&api_key, "hash-1", &minted(&other, &api_key))
        .await
        .unwrap();
    let acme_log = store
        .list_audit(&acme, &PageRequest::first(50))
        .await
        .unwrap();
    assert_eq!(acme_log.items.len(), 1);
    assert!(acme_log.items.iter().all(|e| e.org == acme));
    let other_keys = store
        .list_api_keys(&acme, &PageRequest::first(50))
        .await
        .unwrap();
    assert!(other_keys.items.is_empty());
}

async fn rejects_duplicate_key_hashes(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    let first = key(&acme, &[]);
    store
        .insert_api_key(&first, "same", &minted(&acme, &first))
        .await
        .unwrap();
    let second = key(&acme, &[]);
    let error = store
        .insert_api_key(&second, "same", &minted(&acme, &second))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    assert_eq!(
        store
            .list_audit(&acme, &PageRequest::first(50))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}
