//! Run events recorded in batches (the group commit's store call).

use super::delivery::{endpoint, event};
use super::orgs::org;
use super::runs::api_run;
use crate::conformance;
use chrono::{Duration, Utc};
use hookgate::store::{
    ClaimLimits, OrgSlug, RecordedRunEvent, RunEvent, RunEventWrite, RunStatus, Store,
};
use std::collections::HashMap;
use std::sync::Arc;

conformance!(
    a_batch_answers_as_one_call_per_event_would_with_repeats_inside_and_across_batches,
    concurrent_batches_record_each_event_once_and_fan_it_out_once,
);

fn of_run(mut event: RunEvent, run_id: &str) -> RunEvent {
    event.run_id = Some(run_id.into());
    event
}

fn writes(events: &[RunEvent]) -> Vec<RunEventWrite> {
    events
        .iter()
        .map(|event| RunEventWrite {
            event: event.clone(),
            only_endpoint: None,
        })
        .collect()
}

/// Two batches of `org`'s run `run_id`: a repeat inside the first batch, a repeat of
/// the first batch in the second, and several status moves of the run per batch.
fn script(org: &OrgSlug, run_id: &str) -> [Vec<RunEvent>; 2] {
    [
        vec![
            of_run(event(org, "e1", "run.started"), run_id),
            event(org, "e2", "run.completed"),
            of_run(event(org, "e1", "run.completed"), run_id),
            of_run(event(org, "e3", "run.completed"), run_id),
            event(org, "e5", "deploy.done"),
        ],
        vec![
            event(org, "e2", "run.failed"),
            of_run(event(org, "e4", "run.failed"), run_id),
            event(org, "e4", "run.completed"),
            of_run(event(org, "e6", "run.started"), run_id),
        ],
    ]
}

async fn run_status(store: &dyn Store, run_id: &str) -> RunStatus {
    store.find_run(run_id).await.unwrap().unwrap().status
}

async fn due_deliveries(store: &dyn Store) -> usize {
    let now = Utc::now() + Duration::seconds(1);
    store
        .claim_due_deliveries(
            &ClaimLimits::total(10_000),
            now,
            now + Duration::seconds(60),
        )
        .await
        .unwrap()
        .len()
}

async fn a_batch_answers_as_one_call_per_event_would_with_repeats_inside_and_across_batches(
    store: Arc<dyn Store>,
) {
    // The same endpoints and run in two orgs: one is fed event by event, the other in
    // batches; every answer and every resulting state must agree.
    let (one_by_one, batched) = (
        org(store.as_ref(), "one-by-one").await,
        org(store.as_ref(), "batched").await,
    );
    let mut runs = Vec::new();
    for org in [&one_by_one, &batched] {
        endpoint(store.as_ref(), org, &[], true).await;
        endpoint(store.as_ref(), org, &["run.completed"], true).await;
        let run = api_run(org, "wf");
        store.trigger_run(&run, None).await.unwrap();
        runs.push(run.id);
    }
    let [one_by_one_run, batched_run] = [&runs[0], &runs[1]];
    let one_by_one_script = script(&one_by_one, one_by_one_run);
    let batched_script = script(&batched, batched_run);
    for (sequence, batch) in one_by_one_script.iter().zip(&batched_script) {
        let mut expected: Vec<RecordedRunEvent> = Vec::new();
        for event in sequence {
            expected.push(store.record_run_event(event, None).await.unwrap());
        }
        let answers = store.record_run_events(&writes(batch)).await.unwrap();
        assert_eq!(answers, expected);
        assert_eq!(
            run_status(store.as_ref(), batched_run).await,
            run_status(store.as_ref(), one_by_one_run).await,
            "the run ends as its last new event of the batch set it"
        );
    }
    assert_eq!(
        run_status(store.as_ref(), batched_run).await,
        RunStatus::Running,
        "e6 (run.started) was the last new event of the run"
    );
    let first = store
        .record_run_events(&writes(&batched_script[0]))
        .await
        .unwrap();
    assert!(
        first.iter().all(|r| !r.new && r.deliveries == 0),
        "a replayed batch records nothing: {first:?}"
    );
    // e1, e4, e5 and e6 go to the catch-all endpoint alone, e2 and e3 to both: 8 per org.
    assert_eq!(due_deliveries(store.as_ref()).await, 16);
}

async fn concurrent_batches_record_each_event_once_and_fan_it_out_once(store: Arc<dyn Store>) {
    let acme = org(store.as_ref(), "acme").await;
    endpoint(store.as_ref(), &acme, &[], true).await;
    endpoint(store.as_ref(), &acme, &[], true).await;
    const IDS: usize = 60;
    // Eight writers, each with batches whose ids overlap the others' and repeat inside.
    let tasks: Vec<_> = (0..8)
        .map(|writer| {
            let (store, acme) = (Arc::clone(&store), acme.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for round in 0..3 {
                    let events: Vec<RunEvent> = (0..24)
                        .map(|i| (writer * 7 + round * 11 + i % 20) % IDS)
                        .map(|n| event(&acme, &format!("e{n}"), "run.completed"))
                        .collect();
                    let recorded = store.record_run_events(&writes(&events)).await.unwrap();
                    answers.extend(events.into_iter().map(|e| e.id).zip(recorded));
                }
                answers
            })
        })
        .collect();
    let mut new_per_id: HashMap<String, usize> = HashMap::new();
    let mut deliveries = 0;
    for task in tasks {
        for (id, recorded) in task.await.unwrap() {
            *new_per_id.entry(id).or_default() += usize::from(recorded.new);
            deliveries += recorded.deliveries;
        }
    }
    assert!(
        new_per_id.values().all(|n| *n == 1),
        "each id is new exactly once: {new_per_id:?}"
    );
    assert_eq!(deliveries, new_per_id.len() * 2);
    assert_eq!(due_deliveries(store.as_ref()).await, new_per_id.len() * 2);
}
