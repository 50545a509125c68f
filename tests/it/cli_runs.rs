//! The operator CLI for a run's timeline and cancel (SPEC §12): `runs events` (a page,
//! or `--follow` as a child process reading the live stream to the run's end, resuming
//! after a dropped connection) and `runs cancel`, run as the built binary against the
//! real server.

use crate::cli::hookgate;
use crate::in_both_modes;
use crate::support::process::BIN;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{TcpProxy, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

in_both_modes!(follow_prints_past_then_live_events_and_exits_after_the_terminal_one);

const WAIT: Duration = Duration::from_secs(10);

/// An org `acme` and a run of `wf_deploy` started by the trigger API; returns its id.
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

/// Publishes a run event, as the run's scheduler reports one.
async fn report(server: &TestServer, run_id: &str, event_type: &str) {
    let reply = server
        .post(
            "/v1/orgs/acme/events",
            OPERATOR_TOKEN,
            json!({"type": event_type, "run_id": run_id, "data": {"step": event_type}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

/// `hookgate runs events <run> --follow …` as a child process: its stdout lines as they
/// are printed, its stderr kept for failure messages. Killed if the test ends first.
struct Follower {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Follower {
    fn start(url: &str, run_id: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["runs", "events", run_id, "--follow"])
            .args(extra)
            .env_remove("HOOKGATE_CONFIG")
            .env("HOOKGATE_URL", url)
            .env("HOOKGATE_TOKEN", OPERATOR_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::unbounded_channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines() {
                if sender.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Self {
            child,
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The next line printed, within `WAIT`.
    async fn line(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("stdout closed; stderr: {}", self.stderr()),
            Err(_) => panic!("nothing printed within {WAIT:?}; stderr: {}", self.stderr()),
        }
    }

    /// Waits for the exit; returns its status and whatever was printed last.
    async fn exit(mut self) -> (ExitStatus, Vec<String>, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running after {WAIT:?}; stderr: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut rest = Vec::new();
        while let Ok(Some(line)) = tokio::time::timeout(WAIT, self.lines.recv()).await {
            rest.push(line);
        }
        let stderr = self.stderr();
        (status, rest, stderr)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A table line's first two columns: (seq, type) of a followed or listed event.
fn seq_and_type(line: &str) -> (u64, String) {
    let cells: Vec<&str> = line.split_whitespace().collect();
    let seq = cells[0]
        .parse()
        .unwrap_or_else(|_| panic!("no seq: {line}"));
    (seq, cells[3].to_owned())
}

async fn follow_prints_past_then_live_events_and_exits_after_the_terminal_one(mode: Mode) {
    let server = TestServer::start(mode).await;
    let run_id = new_run(&server).await;
    report(&server, &run_id, "run.started").await;

    let mut follower = Follower::start(&server.url, &run_id, &[]);
    let header = follower.line().await;
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["SEQ", "OCCURRED", "TYPE", "EVENT", "ID", "DATA"],
        "{header}"
    );
    let past = follower.line().await;
    assert_eq!(seq_and_type(&past), (1, "run.started".into()), "{past}");
    assert!(past.ends_with(r#"{"step":"run.started"}"#), "{past}");

    // Printed (and flushed) while the run goes on, not at exit.
    report(&server, &run_id, "run.step").await;
    let live = follower.line().await;
    assert_eq!(seq_and_type(&live), (2, "run.step".into()), "{live}");
    report(&server, &run_id, "run.completed").await;
    let last = follower.line().await;
    assert_eq!(seq_and_type(&last), (3, "run.completed".into()), "{last}");
    let (status, rest, stderr) = follower.exit().await;
    assert!(status.success(), "{status}; stderr: {stderr}");
    assert!(rest.is_empty(), "{rest:?}");

    // Once the run has ended, --follow replays its events and exits; --json prints the
    // stream's payloads, one object per line; --after starts later.
    let replay = Follower::start(&server.url, &run_id, &["--json"]);
    let (status, lines, stderr) = replay.exit().await;
    assert!(status.success(), "{status}; stderr: {stderr}");
    let events: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(events[2]["type"], "run.completed");
    assert_eq!(events[1]["data"], json!({"step": "run.step"}));
    let (status, lines, _) = Follower::start(&server.url, &run_id, &["--json", "--after", "2"])
        .exit()
        .await;
    assert!(status.success());
    assert_eq!(lines.len(), 1, "{lines:?}");
    // Resuming after the last event: nothing more will come, so it exits at once.
    let (status, lines, stderr) =
        Follower::start(&server.url, &run_id, &["--json", "--after", "3"])
            .exit()
            .await;
    assert!(status.success(), "{stderr}");
    assert!(lines.is_empty(), "{lines:?}");
    server.stop().await.unwrap();
}

/// The follower reads through a proxy the test cuts: every live connection dropped and
/// new ones refused for a while. Events recorded meanwhile are printed once it is back,
/// and nothing is printed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_resumes_after_a_dropped_connection_without_gap_or_repeat() {
    let server = TestServer::embedded().await;
    let run_id = new_run(&server).await;
    let proxy = TcpProxy::start(server.url.trim_start_matches("http://")).await;
    report(&server, &run_id, "run.started").await;
    let mut follower = Follower::start(&format!("http://{}", proxy.addr()), &run_id, &["--json"]);
    let first: Value = serde_json::from_str(&follower.line().await).unwrap();
    assert_eq!(first["seq"], 1);

    proxy.cut();
    report(&server, &run_id, "run.step").await;
    report(&server, &run_id, "run.step").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.restore();
    let mut seqs = vec![1];
    for _ in 0..2 {
        let event: Value = serde_json::from_str(&follower.line().await).unwrap();
        seqs.push(event["seq"].as_u64().unwrap());
    }
    report(&server, &run_id, "run.completed").await;
    let last: Value = serde_json::from_str(&follower.line().await).unwrap();
    seqs.push(last["seq"].as_u64().unwrap());
    assert_eq!(last["type"], "run.completed");
    let (status, rest, stderr) = follower.exit().await;
    assert!(status.success(), "{status}; stderr: {stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(seqs, [1, 2, 3, 4], "no gap, no repeat");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    drop(proxy);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lists_a_runs_timeline_in_order_page_by_page() {
    let server = TestServer::embedded().await;
    let run_id = new_run(&server).await;
    for event_type in ["run.started", "run.step", "run.completed"] {
        report(&server, &run_id, event_type).await;
    }
    let listed = hookgate(&server, &["runs", "events", &run_id]).await.ok();
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SEQ  OCCURRED") && lines[0].contains("EVENT ID"),
        "{}",
        listed.stdout
    );
    let rows: Vec<(u64, String)> = lines[1..].iter().map(|l| seq_and_type(l)).collect();
    assert_eq!(
        rows,
        [
            (1, "run.started".to_owned()),
            (2, "run.step".to_owned()),
            (3, "run.completed".to_owned())
        ],
        "{}",
        listed.stdout
    );
    assert!(
        lines[2].ends_with(r#"{"step":"run.step"}"#),
        "{}",
        listed.stdout
    );

    let json = hookgate(&server, &["runs", "events", &run_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["data"].as_array().unwrap().len(), 3);
    assert!(json["next_cursor"].is_null());

    let first = hookgate(&server, &["runs", "events", &run_id, "--limit", "2"])
        .await
        .ok();
    let hint = first.stdout.lines().last().unwrap();
    let cursor = hint
        .strip_prefix("(more: --cursor ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no next-page hint: {}", first.stdout));
    let rest = hookgate(&server, &["runs", "events", &run_id, "--cursor", cursor])
        .await
        .ok();
    assert_eq!(rest.stdout.lines().count(), 2, "{}", rest.stdout);
    assert_eq!(seq_and_type(rest.stdout.lines().nth(1).unwrap()).0, 3);
    let after = hookgate(
        &server,
        &["runs", "events", &run_id, "--after", "1", "--json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(after["data"][0]["seq"], 2);

    // Refused before any request: the flags clap checks, and an unknown run by the API.
    let refused = hookgate(
        &server,
        &["runs", "events", &run_id, "--follow", "--limit", "2"],
    )
    .await;
    assert!(
        !refused.success && refused.stderr.contains("--limit"),
        "{}",
        refused.stderr
    );
    let unknown = hookgate(&server, &["runs", "events", "run_nope", "--follow"]).await;
    assert!(!unknown.success);
    assert!(
        unknown.stderr.contains("not_found") && unknown.stderr.contains("request id"),
        "{}",
        unknown.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_requested_once_and_an_ended_run_has_nothing_to_cancel() {
    let server = TestServer::embedded().await;
    let run_id = new_run(&server).await;
    report(&server, &run_id, "run.started").await;

    let first = hookgate(&server, &["runs", "cancel", &run_id]).await.ok();
    assert_eq!(first.field("id"), run_id);
    assert_eq!(first.field("status"), "running");
    let requested_at = first.field("cancel requested");
    assert!(requested_at.ends_with('Z'), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains(&format!("cancel requested at {requested_at}")),
        "{}",
        first.stdout
    );
    let second = hookgate(&server, &["runs", "cancel", &run_id]).await.ok();
    assert_eq!(second.stdout, first.stdout, "asking again: the same answer");
    let json = hookgate(&server, &["runs", "cancel", &run_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["run"]["id"], run_id.as_str());
    assert!(json["run"]["cancel_requested_at"].is_string(), "{json}");

    let shown = hookgate(&server, &["runs", "show", &run_id]).await.ok();
    assert_eq!(shown.field("cancel requested"), requested_at);
    let timeline = hookgate(&server, &["runs", "events", &run_id]).await.ok();
    let types: Vec<String> = timeline
        .stdout
        .lines()
        .skip(1)
        .map(|line| seq_and_type(line).1)
        .collect();
    assert_eq!(types, ["run.started", "run.cancel_requested"], "once");

    report(&server, &run_id, "run.cancelled").await;
    let ended = hookgate(&server, &["runs", "cancel", &run_id]).await.ok();
    assert_eq!(ended.field("status"), "cancelled");
    assert!(
        ended
            .stdout
            .ends_with("run already ended (cancelled): nothing to cancel\n"),
        "{}",
        ended.stdout
    );

    let unknown = hookgate(&server, &["runs", "cancel", "run_nope"]).await;
    assert!(!unknown.success);
    assert!(
        unknown.stderr.contains("not_found") && unknown.stderr.contains("request id"),
        "{}",
        unknown.stderr
    );
    server.stop().await.unwrap();
}
