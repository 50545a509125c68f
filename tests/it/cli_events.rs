//! The operator CLI for the ingress event log (SPEC §11): `sources events`, `events
//! list|show|replay` and quiet sources, run as the built binary against the real server
//! after GitHub webhooks signed as GitHub signs them.

use crate::cli::{hookgate, Run};
use crate::hooks::ALLOW_LOOPBACK;
use crate::ingress::signed;
use crate::support::receiver::TestReceiver;
use crate::support::{eventually, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "It's a Secret to Everybody";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const WAIT: Duration = Duration::from_secs(10);

async fn server_with_org() -> TestServer {
    let server = TestServer::embedded_with(&[ALLOW_LOOPBACK]).await;
    hookgate(&server, &["orgs", "create", "acme"]).await.ok();
    server
}

/// Creates a GitHub source for `push` events through the CLI; returns its id.
async fn github_source(server: &TestServer, extra: &[&str]) -> String {
    let args = [
        "sources",
        "create",
        "--org",
        "acme",
        "--name",
        "gh",
        "--workflow",
        "wf_deploy",
        "--verifier",
        "github",
        "--secret",
        SECRET,
        "--event-filter",
        "push",
    ];
    let created = hookgate(server, &[&args[..], extra].concat()).await.ok();
    created.field("source")
}

/// The headers GitHub sends: its signature, event name and delivery id, its user agent,
/// and a cookie hookgate must not keep.
fn github_headers(body: &[u8], delivery: &str, event: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        signed(&json!({"type": "github"}), SECRET, body, 0, delivery)
            .into_iter()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("x-github-event")
                    && !name.eq_ignore_ascii_case("x-github-delivery")
            })
            .collect();
    headers.extend([
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
        (
            "User-Agent".to_owned(),
            "GitHub-Hookshot/044aadd".to_owned(),
        ),
        ("Cookie".to_owned(), "session=never-kept".to_owned()),
    ]);
    headers
}

/// Sends a signed GitHub webhook; returns the answer's body (`event_id`, `run_id`).
async fn send(
    server: &TestServer,
    source_id: &str,
    body: &str,
    delivery: &str,
    event: &str,
) -> Value {
    let headers = github_headers(body.as_bytes(), delivery, event);
    let reply = server
        .send_webhook(source_id, &headers, body.as_bytes())
        .await;
    assert!(
        [StatusCode::OK, StatusCode::ACCEPTED].contains(&reply.status),
        "{}: {}",
        reply.status,
        reply.body
    );
    reply.body
}

fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .to_owned()
}

/// The cells of the table row whose first cell is `id` (a time takes two cells).
fn cells<'a>(table: &'a Run, id: &str) -> Vec<&'a str> {
    table
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{}", table.stdout))
}

/// The ids in the first column of a table, header and next-page hint left out.
fn listed_ids(table: &Run) -> Vec<String> {
    table
        .stdout
        .lines()
        .skip(1)
        .filter(|line| !line.starts_with("(more:"))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_events_lists_a_github_webhook_with_its_delivery_id_run_and_size() {
    let server = server_with_org().await;
    let source_id = github_source(&server, &[]).await;
    let body = r#"{"ref":"refs/heads/main"}"#;
    let accepted = send(&server, &source_id, body, DELIVERY, "push").await;
    let (event_id, run_id) = (id(&accepted["event_id"]), id(&accepted["run_id"]));
    // The same delivery again: answered as a duplicate, counted on the original.
    send(&server, &source_id, body, DELIVERY, "push").await;
    let issue = send(&server, &source_id, "{}", "issue-1", "issues").await;

    let listed = hookgate(&server, &["sources", "events", &source_id])
        .await
        .ok();
    let header: Vec<&str> = listed
        .stdout
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|h| !h.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "ID",
            "RECEIVED",
            "STATUS",
            "EVENT",
            "DEDUP KEY",
            "RUN",
            "DUPLICATES",
            "BYTES"
        ]
    );
    let body_bytes = body.len().to_string();
    assert_eq!(
        cells(&listed, &event_id)[3..],
        ["accepted", "push", DELIVERY, &run_id, "1", &body_bytes],
        "{}",
        listed.stdout
    );
    assert_eq!(
        cells(&listed, &id(&issue["event_id"]))[3..],
        ["ignored", "issues", "issue-1", "-", "0", "2"]
    );
    assert_eq!(
        listed_ids(&listed),
        [id(&issue["event_id"]), event_id.clone()],
        "newest first"
    );

    let only_accepted = ["sources", "events", &source_id, "--status", "accepted"];
    let accepted_list = hookgate(&server, &only_accepted).await.ok();
    assert_eq!(listed_ids(&accepted_list), [event_id.as_str()]);
    let json = hookgate(&server, &[&only_accepted[..], &["--json"]].concat())
        .await
        .ok()
        .json();
    assert_eq!(json["data"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["data"][0]["id"], event_id.as_str());
    assert_eq!(json["data"][0]["dedup_key"], DELIVERY);
    assert_eq!(json["next_cursor"], Value::Null);

    // Pages: the hint under the first page leads to the second.
    let first = hookgate(&server, &["sources", "events", &source_id, "--limit", "1"])
        .await
        .ok();
    let hint = first.stdout.lines().last().unwrap();
    let cursor = hint
        .strip_prefix("(more: --cursor ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no next-page hint:\n{}", first.stdout));
    let args = [
        "sources", "events", &source_id, "--limit", "1", "--cursor", cursor,
    ];
    let second = hookgate(&server, &args).await.ok();
    assert_eq!(
        listed_ids(&second),
        [event_id.as_str()],
        "{}",
        second.stdout
    );

    let refused = hookgate(
        &server,
        &["sources", "events", &source_id, "--status", "lost"],
    )
    .await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("invalid value 'lost'"),
        "{}",
        refused.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list_finds_a_github_delivery_by_its_delivery_id() {
    let server = server_with_org().await;
    let source_id = github_source(&server, &[]).await;
    let other_source = github_source(&server, &[]).await;
    let wanted = send(&server, &source_id, r#"{"n":1}"#, DELIVERY, "push").await;
    send(&server, &source_id, r#"{"n":2}"#, "other-delivery", "push").await;
    send(
        &server,
        &other_source,
        r#"{"n":3}"#,
        "third-delivery",
        "push",
    )
    .await;
    let event_id = id(&wanted["event_id"]);

    let by_delivery = ["events", "list", "--org", "acme", "--dedup-key", DELIVERY];
    let found = hookgate(&server, &by_delivery).await.ok();
    assert_eq!(listed_ids(&found), [event_id.as_str()], "{}", found.stdout);
    let header: Vec<&str> = found
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header[..2],
        ["ID", "SOURCE"],
        "each event's source is named"
    );
    let row = cells(&found, &event_id);
    assert_eq!(row[1], source_id);
    assert_eq!(row[4..7], ["accepted", "push", DELIVERY]);
    let json = hookgate(&server, &[&by_delivery[..], &["--json"]].concat())
        .await
        .ok()
        .json();
    let data = json["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "exactly the one delivery: {json}");
    assert_eq!(data[0]["id"], event_id.as_str());
    assert_eq!(data[0]["run_id"], wanted["run_id"]);

    // The other filters reach the API too.
    let all = hookgate(&server, &["events", "list", "--org", "acme"])
        .await
        .ok();
    assert_eq!(listed_ids(&all).len(), 3, "{}", all.stdout);
    let of_source = ["events", "list", "--org", "acme", "--source", &other_source];
    assert_eq!(
        listed_ids(&hookgate(&server, &of_source).await.ok()).len(),
        1
    );
    let recent = [&by_delivery[..], &["--since", "1h", "--status", "accepted"]].concat();
    assert_eq!(
        listed_ids(&hookgate(&server, &recent).await.ok()),
        [event_id.as_str()]
    );
    let later = [&by_delivery[..], &["--since", "2999-01-01T00:00:00Z"]].concat();
    assert!(listed_ids(&hookgate(&server, &later).await.ok()).is_empty());
    let unknown = [
        "events",
        "list",
        "--org",
        "acme",
        "--dedup-key",
        "never-sent",
    ];
    assert!(listed_ids(&hookgate(&server, &unknown).await.ok()).is_empty());

    for bad in [&["--since", "yesterday"][..], &["--status", "lost"][..]] {
        let refused = hookgate(&server, &[&by_delivery[..], bad].concat()).await;
        assert!(!refused.success, "{bad:?}");
        assert!(
            refused.stderr.contains("invalid value"),
            "{}",
            refused.stderr
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_show_prints_the_body_redacted_signature_and_the_lineage_to_its_delivery() {
    let server = server_with_org().await;
    let receiver = TestReceiver::start().await;
    let created = hookgate(
        &server,
        &[
            "endpoints",
            "create",
            "--org",
            "acme",
            "--endpoint-url",
            &receiver.url,
            "--event-types",
            "run.completed",
        ],
    )
    .await
    .ok();
    let endpoint_id = created.field("endpoint");
    let source_id = github_source(&server, &[]).await;
    let body = "{\"ref\":\"refs/heads/main\",\n  \"note\":\"caf\u{e9}\"}";
    let accepted = send(&server, &source_id, body, DELIVERY, "push").await;
    let (event_id, run_id) = (id(&accepted["event_id"]), id(&accepted["run_id"]));
    // The run reports back; the report is delivered to the endpoint.
    let args = [
        "events",
        "publish",
        "--org",
        "acme",
        "--type",
        "run.completed",
        "--run-id",
        &run_id,
        "--workflow-id",
        "wf_deploy",
    ];
    hookgate(&server, &args).await.ok();
    assert_eq!(receiver.wait_for(1, WAIT).await.len(), 1);
    let show = ["events", "show", &event_id];
    let delivered = eventually(WAIT, || async {
        let json = hookgate(&server, &[&show[..], &["--json"]].concat())
            .await
            .ok()
            .json();
        json["lineage"]["deliveries"][0]["status"] == "delivered"
    })
    .await;
    assert!(delivered, "the delivery never showed as delivered");

    let shown = hookgate(&server, &show).await.ok();
    let out = &shown.stdout;
    assert_eq!(shown.field("id"), event_id);
    assert_eq!(shown.field("source"), source_id);
    assert_eq!(shown.field("status"), "accepted");
    assert_eq!(shown.field("event"), "push");
    assert_eq!(shown.field("dedup key"), DELIVERY);
    assert_eq!(shown.field("run"), run_id);
    assert!(out.contains("\nheaders\n"), "{out}");
    assert!(out.contains("\nx-hub-signature-256: [redacted]\n"), "{out}");
    assert!(
        out.contains(&format!("\nx-github-delivery: {DELIVERY}\n")),
        "{out}"
    );
    assert!(
        out.contains("\nuser-agent: GitHub-Hookshot/044aadd\n"),
        "{out}"
    );
    assert!(
        !out.to_lowercase().contains("cookie"),
        "credentials are dropped: {out}"
    );
    assert!(!out.contains(SECRET));
    let headers: Vec<&str> = out
        .lines()
        .skip_while(|line| *line != "headers")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    let mut sorted = headers.clone();
    sorted.sort_unstable();
    assert_eq!(headers, sorted, "headers sorted by name");
    assert!(
        out.contains(&format!("\nbody\n{body}\n\nlineage\n")),
        "the body as is: {out}"
    );

    let secret = hookgate(&server, &["sources", "show", &source_id, "--json"])
        .await
        .ok()
        .json()["secrets"]["data"][0]
        .clone();
    let tree: Vec<&str> = out
        .lines()
        .skip_while(|line| *line != "lineage")
        .skip(1)
        .collect();
    let expected_start = [
        format!("{event_id} received "),
        format!(
            "├─ verified by {} (fingerprint {})",
            id(&secret["id"]),
            id(&secret["fingerprint"])
        ),
        format!("└─ run {run_id} "),
        "   ├─ 1 run.completed ".to_owned(),
        "   └─ deliveries".to_owned(),
    ];
    assert_eq!(tree.len(), 6, "{out}");
    for (line, start) in tree.iter().zip(&expected_start) {
        assert!(
            line.starts_with(start.as_str()),
            "{line:?} should start with {start:?}\n{out}"
        );
    }
    assert!(
        tree[0].ends_with(&format!("({source_id}, push, delivery {DELIVERY})")),
        "{out}"
    );
    assert!(
        tree[5].starts_with("      └─ dlv_")
            && tree[5].ends_with(&format!(
                "→ {endpoint_id} run.completed delivered (1 attempt)"
            )),
        "{out}"
    );

    let json = hookgate(&server, &[&show[..], &["--json"]].concat())
        .await
        .ok()
        .json();
    assert_eq!(json["id"], event_id.as_str());
    assert_eq!(json["body"], body);
    assert_eq!(json["headers"]["x-hub-signature-256"], "[redacted]");
    assert_eq!(json["lineage"]["run"]["id"], run_id.as_str());

    let missing = hookgate(&server, &["events", "show", "evt_missing"]).await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("not_found") && missing.stderr.contains("request id "),
        "{}",
        missing.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replay_prints_a_new_run_that_runs_show_calls_a_replay() {
    let server = server_with_org().await;
    let source_id = github_source(&server, &[]).await;
    let accepted = send(&server, &source_id, r#"{"ref":"main"}"#, DELIVERY, "push").await;
    let (event_id, run_id) = (id(&accepted["event_id"]), id(&accepted["run_id"]));

    let replayed = hookgate(&server, &["events", "replay", &event_id])
        .await
        .ok();
    let replay_run = replayed.field("run");
    assert!(
        replay_run.starts_with("run_") && replay_run != run_id,
        "{}",
        replayed.stdout
    );
    assert_eq!(replayed.field("status"), "queued");
    assert_eq!(replayed.field("replay of"), event_id);

    let run = hookgate(&server, &["runs", "show", &replay_run]).await.ok();
    assert_eq!(run.field("trigger"), "replay");
    assert_eq!(run.field("event"), event_id);
    assert_eq!(run.field("source"), source_id);
    assert_eq!(run.field("workflow"), "wf_deploy");

    let json = hookgate(&server, &["events", "replay", &event_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["run"]["replay_of"], event_id.as_str());
    assert_eq!(json["run"]["status"], "queued");
    assert_ne!(
        json["run"]["id"],
        replay_run.as_str(),
        "each replay is a new run"
    );

    // An event that started no run cannot be replayed: the API's code and request id.
    send(
        &server,
        &source_id,
        r#"{"zen":"Keep it simple."}"#,
        "ping-1",
        "ping",
    )
    .await;
    let handshakes = [
        "sources",
        "events",
        &source_id,
        "--status",
        "handshake",
        "--json",
    ];
    let ping = hookgate(&server, &handshakes).await.ok().json();
    let refused = hookgate(&server, &["events", "replay", &id(&ping["data"][0]["id"])]).await;
    assert!(!refused.success);
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("not_replayable") && refused.stderr.contains("request id "),
        "{}",
        refused.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_after_is_set_at_create_changed_by_update_and_quiet_sources_are_listed() {
    let server = server_with_org().await;
    let created = hookgate(
        &server,
        &[
            "sources",
            "create",
            "--org",
            "acme",
            "--name",
            "quiet",
            "--workflow",
            "wf",
            "--verifier",
            "github",
            "--secret",
            SECRET,
            "--quiet-after",
            "1s",
        ],
    )
    .await
    .ok();
    assert_eq!(created.field("quiet after"), "1s");
    let quiet_id = created.field("source");
    let busy_id = github_source(&server, &["--quiet-after", "1h"]).await;

    let quiet_list = ["sources", "list", "--org", "acme", "--quiet"];
    let became_quiet = eventually(WAIT, || async {
        listed_ids(&hookgate(&server, &quiet_list).await.ok()) == [quiet_id.as_str()]
    })
    .await;
    assert!(
        became_quiet,
        "the source with nothing for 1s is listed as quiet"
    );
    let shown = hookgate(&server, &["sources", "show", &quiet_id])
        .await
        .ok();
    assert_eq!(shown.field("quiet after"), "1s");
    assert_eq!(shown.field("last event"), "-");
    assert_eq!(shown.field("quiet"), "true");

    let all = hookgate(&server, &["sources", "list", "--org", "acme"])
        .await
        .ok();
    assert!(
        all.stdout
            .lines()
            .next()
            .unwrap()
            .contains(" QUIET AFTER  LAST EVENT "),
        "{}",
        all.stdout
    );
    let busy_row = cells(&all, &busy_id);
    assert_eq!(busy_row[6..9], ["1h", "-", "false"], "{}", all.stdout);

    // An event makes the busy source's last event known; it stays loud.
    send(&server, &busy_id, "{}", DELIVERY, "push").await;
    let busy = hookgate(&server, &["sources", "show", &busy_id]).await.ok();
    assert_ne!(busy.field("last event"), "-");
    assert_eq!(busy.field("quiet"), "false");

    let updated = hookgate(
        &server,
        &["sources", "update", &quiet_id, "--quiet-after", "1h"],
    )
    .await
    .ok();
    assert_eq!(updated.field("id"), quiet_id);
    assert_eq!(updated.field("quiet after"), "1h");
    assert_eq!(updated.field("quiet"), "false");
    assert!(listed_ids(&hookgate(&server, &quiet_list).await.ok()).is_empty());
    let cleared = hookgate(
        &server,
        &["sources", "update", &quiet_id, "--no-quiet-after", "--json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(cleared["quiet_after_s"], Value::Null);
    assert_eq!(cleared["quiet"], false);
    let listed = hookgate(
        &server,
        &["sources", "list", "--org", "acme", "--quiet", "--json"],
    )
    .await
    .ok()
    .json();
    assert_eq!(listed["data"], json!([]));

    for bad in ["0s", "366d", "soon"] {
        let refused = hookgate(
            &server,
            &["sources", "update", &quiet_id, "--quiet-after", bad],
        )
        .await;
        assert!(!refused.success, "{bad}");
        assert!(
            refused.stderr.contains("invalid value"),
            "{}",
            refused.stderr
        );
    }
    server.stop().await.unwrap();
}
