//! Console sessions: stored by the hash of their cookie, idle clock, sign-out, janitor.

use chrono::{Duration, Utc};
use hookgate::store::{ConsoleSession, SessionHolder, Store};
use std::sync::Arc;

fn session(hash: &str, holder: SessionHolder, seen_minutes_ago: i64) -> ConsoleSession {
    // Stores keep milliseconds; whole seconds compare equal after a round trip.
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    ConsoleSession {
        token_hash: hash.into(),
        holder,
        csrf_token: format!("csrf-{hash}"),
        created_at: now - Duration::minutes(seen_minutes_ago + 5),
        last_seen_at: now - Duration::minutes(seen_minutes_ago),
    }
}

async fn sessions_are_found_by_hash_touched_and_deleted(store: Arc<dyn Store>) {
    let operator = session(
        "h1",
        SessionHolder::Operator {
            token_fingerprint: "fp".into(),
        },
        10,
    );
    store.insert_console_session(&operator).await.unwrap();
    let found = store.find_console_session("h1").await.unwrap().unwrap();
    assert_eq!(found.holder, operator.holder);
    assert_eq!(found.csrf_token, "csrf-h1");
    assert_eq!(found.last_seen_at, operator.last_seen_at);
    assert!(store.find_console_session("h2").await.unwrap().is_none());

    let later = operator.last_seen_at + Duration::minutes(3);
    store.touch_console_session("h1", later).await.unwrap();
    // The idle clock never goes back.
    store
        .touch_console_session("h1", operator.last_seen_at)
        .await
        .unwrap();
    let touched = store.find_console_session("h1").await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, later);

    assert!(store.delete_console_session("h1").await.unwrap());
    assert!(!store.delete_console_session("h1").await.unwrap());
    assert!(store.find_console_session("h1").await.unwrap().is_none());
}

async fn idle_sessions_are_deleted_and_active_ones_kept(store: Arc<dyn Store>) {
    let key = |id: &str| SessionHolder::ApiKey { key_id: id.into() };
    store
        .insert_console_session(&session("idle", key("key_1"), 13 * 60))
        .await
        .unwrap();
    store
        .insert_console_session(&session("active", key("key_2"), 5))
        .await
        .unwrap();
    let deleted = store
        .delete_idle_console_sessions(Utc::now() - Duration::hours(12))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(store.find_console_session("idle").await.unwrap().is_none());
    assert!(store
        .find_console_session("active")
        .await
        .unwrap()
        .is_some());
}

crate::conformance!(
    sessions_are_found_by_hash_touched_and_deleted,
    idle_sessions_are_deleted_and_active_ones_kept,
);
