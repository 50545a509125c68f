//! A run's timeline (SPEC §12): events in seq order as JSON pages, and as a stream
//! that replays, follows live events from any instance, resumes after a disconnect
//! with no gap and no repeat, and ends after the terminal event.

use crate::in_both_modes;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{amqp_prefix, postgres_url, TestServer, AMQP_URL};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

in_both_modes!(
    a_failed_run_is_retried_with_its_input_and_a_running_one_is_refused,
    cancel_is_requested_once_through_the_outbox_and_an_ended_run_answers_200,
    timeline_lists_a_runs_events_in_seq_order_page_by_page,
    stream_replays_follows_live_resumes_without_gap_and_ends_after_the_terminal_event,
);

async fn new_run(server: &TestServer) -> String {
    server.create_org("acme").await;
    let reply = server
        .post(
            "/v1/orgs/acme/workflows/wf_deploy/runs",
            OPERATOR_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["run"]["id"].as_str().unwrap().to_owned()
}

async fn report(server: &TestServer, run_id: &str, event_type: &str) {
    let reply = server
        .post(
            "/v1/orgs/acme/events",
            OPERATOR_TOKEN,
            json!({"type": event_type, "run_id": run_id, "workflow_id": "wf_deploy",
                   "data": {"step": event_type}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

async fn timeline_lists_a_runs_events_in_seq_order_page_by_page(mode: Mode) {
    let server = TestServer::start(mode).await;
    let run_id = new_run(&server).await;
    for event_type in ["run.started", "run.step", "run.step", "run.completed"] {
        report(&server, &run_id, event_type).await;
    }
    let path = format!("/v1/runs/{run_id}/events");
    let all = server.get(&path, OPERATOR_TOKEN).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let seqs: Vec<u64> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let types: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["run.started", "run.step", "run.step", "run.completed"]
    );
    assert_eq!(all.body["data"][1]["data"], json!({"step": "run.step"}));
    assert!(all.body["data"][0]["event_id"].is_string());
    assert!(all.body["next_cursor"].is_null());

    let first = server.get(&format!("{path}?limit=3"), OPERATOR_TOKEN).await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 3);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = server
        .get(&format!("{path}?limit=3&cursor={cursor}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(rest.body["data"][0]["seq"], 4);
    assert!(rest.body["next_cursor"].is_null());
    let after = server.get(&format!("{path}?after=2"), OPERATOR_TOKEN).await;
    assert_eq!(after.body["data"][0]["seq"], 3);

    let run = server
        .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(run.body["status"], "completed");
    // Replaying an event (same id) adds nothing to the timeline.
    let event_id = all.body["data"][0]["event_id"].as_str().unwrap();
    let again = server
        .post(
            "/v1/orgs/acme/events",
            OPERATOR_TOKEN,
            json!({"event_id": event_id, "type": "run.started", "run_id": run_id, "data": {}}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    let still = server.get(&path, OPERATOR_TOKEN).await;
    assert_eq!(still.body["data"].as_array().unwrap().len(), 4);
    server.stop().await.unwrap();
}

/// An open Server-Sent Events stream, read frame by frame.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

#[derive(Debug)]
struct Frame {
    id: u64,
    event: String,
    data: Value,
}

impl Stream {
    async fn open(server: &TestServer, run_id: &str, last_event_id: Option<u64>) -> Self {
        let mut request = server
            .client()
            .get(format!("{}/v1/runs/{run_id}/events", server.url))
            .header("authorization", format!("Bearer {OPERATOR_TOKEN}"))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, skipping comments; `None` when the stream ended.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = value.trim().parse().ok();
                    } else if let Some(value) = line.strip_prefix("event:") {
                        event = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data = serde_json::from_str(value.trim()).ok();
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return Some(Frame { id, event, data });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return None,
                Err(_) => panic!("no event within {within:?}; buffered: {:?}", self.buffer),
            }
        }
    }
}

const LIVE: Duration = Duration::from_secs(1);

async fn stream_replays_follows_live_resumes_without_gap_and_ends_after_the_terminal_event(
    mode: Mode,
) {
    let server = TestServer::start(mode).await;
    let run_id = new_run(&server).await;
    report(&server, &run_id, "run.started").await;
    let mut stream = Stream::open(&server, &run_id, None).await;
    let replayed = stream.next(LIVE).await.unwrap();
    assert_eq!((replayed.id, replayed.event.as_str()), (1, "run.started"));
    assert_eq!(replayed.data["seq"], 1);
    assert_eq!(replayed.data["type"], "run.started");

    report(&server, &run_id, "run.step").await;
    let live = stream.next(LIVE).await.unwrap();
    assert_eq!(
        (live.id, live.event.as_str()),
        (2, "run.step"),
        "live within 1 s"
    );

    // The reader goes away; events go on; it comes back where it left off.
    drop(stream);
    report(&server, &run_id, "run.step").await;
    let mut resumed = Stream::open(&server, &run_id, Some(2)).await;
    let missed = resumed.next(LIVE).await.unwrap();
    assert_eq!(missed.id, 3, "no gap and no repeat: {missed:?}");
    report(&server, &run_id, "run.completed").await;
    let last = resumed.next(LIVE).await.unwrap();
    assert_eq!((last.id, last.event.as_str()), (4, "run.completed"));
    assert!(
        resumed.next(LIVE).await.is_none(),
        "ends after the terminal event"
    );

    // Resuming after the end ends at once; from the start replays all four.
    let mut late = Stream::open(&server, &run_id, Some(4)).await;
    assert!(late.next(LIVE).await.is_none());
    let mut whole = Stream::open(&server, &run_id, None).await;
    let mut ids = Vec::new();
    while let Some(frame) = whole.next(LIVE).await {
        ids.push(frame.id);
    }
    assert_eq!(ids, [1, 2, 3, 4]);
    server.stop().await.unwrap();
}

/// Two instances on one database: a stream opened on B hears an event recorded
/// through A (PostgreSQL LISTEN/NOTIFY) within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_recorded_on_one_instance_reaches_a_stream_on_another() {
    let database = postgres_url().await;
    let prefix = amqp_prefix();
    let a = TestServer::production_shared(&database, AMQP_URL, &prefix).await;
    let b = TestServer::production_shared(&database, AMQP_URL, &prefix).await;
    let run_id = new_run(&a).await;
    report(&a, &run_id, "run.started").await;
    let mut stream = Stream::open(&b, &run_id, None).await;
    assert_eq!(stream.next(LIVE).await.unwrap().id, 1);
    for (seq, event_type) in [(2, "run.step"), (3, "run.completed")] {
        let sent = Instant::now();
        report(&a, &run_id, event_type).await;
        let frame = stream.next(LIVE).await.unwrap();
        assert_eq!((frame.id, frame.event.as_str()), (seq, event_type));
        assert!(sent.elapsed() < LIVE, "{:?}", sent.elapsed());
    }
    assert!(stream.next(LIVE).await.is_none());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

async fn cancel_is_requested_once_through_the_outbox_and_an_ended_run_answers_200(mode: Mode) {
    let server = TestServer::start(mode).await;
    let mut cancels = match mode {
        Mode::Production => Some(
            crate::support::consumer::RunsConsumer::bind_to(
                server.exchange_prefix.as_deref().unwrap(),
                "run.cancel_requested.#",
            )
            .await,
        ),
        Mode::Embedded => None,
    };
    let run_id = new_run(&server).await;
    report(&server, &run_id, "run.started").await;
    let path = format!("/v1/runs/{run_id}/cancel");
    let first = server.post(&path, OPERATOR_TOKEN, json!({})).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["run"]["id"], run_id.as_str());
    assert_eq!(first.body["run"]["status"], "running");
    let requested_at = first.body["run"]["cancel_requested_at"].clone();
    assert!(requested_at.is_string(), "{}", first.body);
    let second = server.post(&path, OPERATOR_TOKEN, json!({})).await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.body, first.body, "idempotent: the same answer");

    if let Some(cancels) = cancels.as_mut() {
        let message = cancels
            .next(Duration::from_secs(10))
            .await
            .expect("a cancel message");
        assert_eq!(message.message_id, format!("{run_id}.cancel"));
        assert_eq!(message.routing_key, "run.cancel_requested.wf_deploy");
        assert!(message.persistent);
        assert_eq!(message.body["run_id"], run_id.as_str());
        assert_eq!(message.body["org"], "acme");
        assert_eq!(message.body["workflow_id"], "wf_deploy");
        assert_eq!(message.body["actor"], "operator");
        assert!(message.body["requested_at"].is_string());
        assert!(
            cancels.next(Duration::from_millis(500)).await.is_none(),
            "the second request published nothing"
        );
    }
    let timeline = server
        .get(&format!("/v1/runs/{run_id}/events"), OPERATOR_TOKEN)
        .await;
    let types: Vec<&str> = timeline.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["run.started", "run.cancel_requested"],
        "once, in order"
    );

    report(&server, &run_id, "run.cancelled").await;
    let run = server
        .get(&format!("/v1/runs/{run_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(run.body["status"], "cancelled");
    assert_eq!(run.body["cancel_requested_at"], requested_at);
    let ended = server.post(&path, OPERATOR_TOKEN, json!({})).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.body["run"]["status"], "cancelled");

    let reader = server.mint_key("acme", &["run:read"]).await;
    let denied = server.post(&path, &reader, json!({})).await;
    assert_eq!(
        (denied.status, denied.error_code()),
        (StatusCode::FORBIDDEN, "scope_denied")
    );
    let canceller = server.mint_key("acme", &["run:cancel"]).await;
    let allowed = server.post(&path, &canceller, json!({})).await;
    assert_eq!(allowed.status, StatusCode::OK);
    server.stop().await.unwrap();
}

async fn a_failed_run_is_retried_with_its_input_and_a_running_one_is_refused(mode: Mode) {
    let server = TestServer::start(mode).await;
    let mut runs = match mode {
        Mode::Production => Some(
            crate::support::consumer::RunsConsumer::bind(
                server.exchange_prefix.as_deref().unwrap(),
            )
            .await,
        ),
        Mode::Embedded => None,
    };
    server.create_org("acme").await;
    let triggered = server
        .post(
            "/v1/orgs/acme/workflows/wf_deploy/runs",
            OPERATOR_TOKEN,
            json!({"input": {"n": 1, "note": "again"}}),
        )
        .await;
    let run_id = triggered.body["run"]["id"].as_str().unwrap().to_owned();
    report(&server, &run_id, "run.started").await;
    let path = format!("/v1/runs/{run_id}/retry");
    let refused = server.post(&path, OPERATOR_TOKEN, json!({})).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::CONFLICT, "run_not_retryable"),
        "{}",
        refused.body
    );
    report(&server, &run_id, "run.failed").await;
    let retried = server.post(&path, OPERATOR_TOKEN, json!({})).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert_eq!(retried.body["run"]["status"], "queued");
    assert_eq!(retried.body["run"]["retry_of"], run_id.as_str());
    let retry_id = retried.body["run"]["id"].as_str().unwrap().to_owned();
    assert_ne!(retry_id, run_id);
    let shown = server
        .get(&format!("/v1/runs/{retry_id}"), OPERATOR_TOKEN)
        .await;
    assert_eq!(shown.body["trigger"]["type"], "retry");
    assert_eq!(shown.body["trigger"]["retry_of"], run_id.as_str());

    if let Some(runs) = runs.as_mut() {
        let mut found = None;
        while let Some(message) = runs.next(Duration::from_secs(10)).await {
            if message.message_id == retry_id {
                found = Some(message);
                break;
            }
        }
        let message = found.expect("the retry reached RabbitMQ");
        crate::runs::trigger::assert_matches_documented_schema(&message.body);
        assert_eq!(message.body["trigger"]["type"], "retry");
        assert_eq!(message.body["trigger"]["retry_of"], run_id.as_str());
        assert_eq!(message.body["input"], json!({"n": 1, "note": "again"}));
    }
    let reader = server.mint_key("acme", &["run:read"]).await;
    let denied = server.post(&path, &reader, json!({})).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    server.stop().await.unwrap();
}
