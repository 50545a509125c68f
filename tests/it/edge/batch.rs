//! The ingress group commit isolates an event the store refuses (SPEC §16), checked
//! below the HTTP checks that normally keep such an event out: events written straight
//! to the writer over the real PostgreSQL.

use bytes::Bytes;
use chrono::Utc;
use hookgate::id::new_id;
use hookgate::ingress::{IngressWriter, RelayLink, WriteError, WriterConfig};
use hookgate::store::{
    AcceptOutcome, EventDisposition, EventWrite, NewEvent, NewRun, OrgSlug, PostgresStore, Store,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

fn write(dedup_key: &str) -> EventWrite {
    let org = OrgSlug::parse("acme").unwrap();
    let (event_id, run_id) = (new_id("evt"), new_id("run"));
    let now = Utc::now();
    EventWrite {
        event: NewEvent {
            id: event_id.clone(),
            org: org.clone(),
            source_id: "src_batch".into(),
            dedup_key: Some(dedup_key.to_owned()),
            event_name: Some("charge.succeeded".into()),
            secret_id: "sec_batch".into(),
            disposition: EventDisposition::Accepted,
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            headers: serde_json::json!({}),
            body: Bytes::from_static(b"{\"id\":\"x\"}"),
            received_at: now,
            dedup_window: Duration::from_secs(3600),
        },
        run: Some(NewRun {
            id: run_id,
            org,
            workflow_id: "wf".into(),
            trigger_type: "webhook",
            source_id: Some("src_batch".into()),
            event_id: Some(event_id),
            message: Bytes::from_static(b"{}"),
            message_headers: vec![],
            created_at: now,
            input: None,
            retry_of: None,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingress_group_commit_answers_a_refused_event_alone_and_commits_the_rest() {
    let url = crate::support::postgres_url().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
    let tracker = TaskTracker::new();
    let writer = IngressWriter::spawn(
        Arc::clone(&store),
        RelayLink {
            handoff: None,
            wake: Arc::new(Notify::new()),
        },
        &WriterConfig {
            writers: 1,
            // Long enough that every event below waits for the same batch.
            linger: Duration::from_millis(20),
            // Load shedding is tested elsewhere; here nothing may be shed.
            max_wait: Duration::from_secs(30),
            ..WriterConfig::default()
        },
        &tracker,
    );
    for round in 0..10 {
        let mut writes: Vec<(bool, EventWrite)> = (0..50)
            .map(|i| (true, write(&format!("key_{round}_{i}"))))
            .collect();
        writes.insert(17, (false, write(&format!("key_{round}_\u{0}"))));
        let answers = futures_util::future::join_all(writes.into_iter().map(|(good, w)| {
            let writer = writer.clone();
            async move { (good, writer.write(w).await) }
        }))
        .await;
        for (good, answer) in answers {
            if good {
                assert_eq!(answer, Ok(AcceptOutcome::Recorded), "round {round}");
            } else {
                assert!(
                    matches!(answer, Err(WriteError::Refused(_))),
                    "round {round}: {answer:?}"
                );
            }
        }
    }
    drop(writer);
    tracker.close();
    tracker.wait().await;
}
