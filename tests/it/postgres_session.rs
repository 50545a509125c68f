//! What hookgate sets in its own PostgreSQL sessions (`store/postgres/session.rs`).

use hookgate::store::PostgresStore;

#[tokio::test]
async fn hookgate_sessions_hand_evicted_pages_to_the_disk_every_256_kib() {
    let url = crate::support::postgres_url().await;
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let value = store.session_setting("backend_flush_after").await.unwrap();
    assert_eq!(value, "256kB");
}

#[tokio::test]
async fn a_backend_flush_after_chosen_in_the_url_is_left_alone() {
    let url = crate::support::postgres_url().await;
    // The harness's URL already carries `options=-csearch_path=…`; add to it.
    let url = format!("{url}%20-cbackend_flush_after%3D0");
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let value = store.session_setting("backend_flush_after").await.unwrap();
    assert_eq!(value, "0");
}
