//! `hookgate events …`: the webhooks hookgate received (the ingress event log, SPEC
//! §11: `list`, `show` with its lineage, `replay`) over `/v1/orgs/{org}/ingress-events`
//! and `/v1/ingress-events/{id}`, and `publish` over `POST /v1/orgs/{org}/events` (SPEC
//! §6, §7.1): a run event by hand, fanned out to the org's matching endpoints like one
//! from the broker. `hookgate sources events` lists one source's with [`event_table`].

use super::since::{rfc3339, Since};
use super::table::{self, cell, count, time, Table, Tree};
use super::{next_page, wire, ApiArgs, Page};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// List the webhooks an org's sources received, newest first; --dedup-key finds one
    /// by the sender's delivery id (X-GitHub-Delivery, Stripe's evt_…, webhook-id).
    List(ListArgs),
    /// Show a received webhook: its fields, headers (signatures redacted), body, and
    /// lineage: the secret that verified it, its run, the run's events and deliveries.
    Show {
        event_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run a received webhook's workflow again, as a new run from its stored body and
    /// headers (trigger type `replay`); prints the new run's id.
    Replay {
        event_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Publish a run event; prints its id and how many deliveries it made.
    Publish(PublishArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long)]
    org: String,
    /// Only the webhooks this source received.
    #[arg(long, value_name = "SOURCE_ID")]
    source: Option<String>,
    /// The sender's delivery id, e.g. the X-GitHub-Delivery header's value.
    #[arg(long, value_name = "ID")]
    dedup_key: Option<String>,
    /// Only events with this outcome.
    #[arg(long)]
    status: Option<EventStatus>,
    /// Only events received since: an RFC 3339 time, or a duration ago (`2h`).
    #[arg(long, value_parser = Since::parse, value_name = "TIME|DURATION")]
    since: Option<Since>,
    #[command(flatten)]
    page: Page,
    #[command(flatten)]
    api: ApiArgs,
}

impl ListArgs {
    /// The query of `GET /v1/orgs/{org}/ingress-events`, `--since` resolved at `now`.
    fn query(&self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(source) = &self.source {
            query.push(("source_id", source.clone()));
        }
        if let Some(key) = &self.dedup_key {
            query.push(("dedup_key", key.clone()));
        }
        if let Some(status) = self.status {
            query.push(("status", wire(status)));
        }
        if let Some(since) = self.since {
            query.push(("since", rfc3339(since.resolve(now))));
        }
        query.extend(self.page.query());
        query
    }
}

/// What hookgate did with a received webhook.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Started a run.
    Accepted,
    /// Not in the source's event filter: recorded, no run.
    Ignored,
    /// A sender's handshake (GitHub's ping, Slack's URL verification): answered, no run.
    Handshake,
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    #[arg(long)]
    org: String,
    /// The event type, e.g. `run.completed`.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,
    /// Idempotency key: an id published before is not delivered again (default:
    /// generated).
    #[arg(long)]
    event_id: Option<String>,
    #[arg(long)]
    run_id: Option<String>,
    #[arg(long)]
    workflow_id: Option<String>,
    /// The payload delivered to endpoints, a JSON object (default: `{}`).
    #[arg(long, value_parser = json_object, value_name = "JSON")]
    data: Option<Value>,
    #[command(flatten)]
    api: ApiArgs,
}

impl PublishArgs {
    /// The request body of SPEC §7.1; what was not given is left to the API.
    fn body(&self) -> Value {
        let mut body = json!({ "type": self.event_type });
        for (name, value) in [
            ("event_id", &self.event_id),
            ("run_id", &self.run_id),
            ("workflow_id", &self.workflow_id),
        ] {
            if let Some(value) = value {
                body[name] = json!(value);
            }
        }
        if let Some(data) = &self.data {
            body["data"] = data.clone();
        }
        body
    }
}

/// `--data`: refused before any request unless it is a JSON object.
fn json_object(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err("must be a JSON object, e.g. '{\"ok\":true}'".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::List(args) => {
            let path = ["v1", "orgs", &args.org, "ingress-events"];
            let query = args.query(Utc::now());
            let reply = args.api.client()?.get(&path, &query).await?;
            args.api.print(&reply, |list| event_table(list, true));
        }
        EventsCommand::Show { event_id, api } => {
            let reply = api
                .client()?
                .get(&["v1", "ingress-events", &event_id], &[])
                .await?;
            api.print(&reply, shown);
        }
        EventsCommand::Replay { event_id, api } => {
            let reply = api
                .client()?
                .post(&["v1", "ingress-events", &event_id, "replay"], &json!({}))
                .await?;
            api.print(&reply, replayed);
        }
        EventsCommand::Publish(args) => {
            let reply = args
                .api
                .client()?
                .post(&["v1", "orgs", &args.org, "events"], &args.body())
                .await?;
            args.api.print(&reply, published);
        }
    }
    Ok(())
}

/// A page of received webhooks; `with_source` adds the SOURCE column (an org's list
/// spans its sources).
pub fn event_table(list: &Value, with_source: bool) -> String {
    let mut header = vec!["ID"];
    if with_source {
        header.push("SOURCE");
    }
    header.extend([
        "RECEIVED",
        "STATUS",
        "EVENT",
        "DEDUP KEY",
        "RUN",
        "DUPLICATES",
        "BYTES",
    ]);
    let mut table = Table::new(header);
    for event in list["data"].as_array().into_iter().flatten() {
        let mut row = vec![cell(&event["id"])];
        if with_source {
            row.push(cell(&event["source_id"]));
        }
        row.extend([
            time(&event["received_at"]),
            cell(&event["status"]),
            cell(&event["event_name"]),
            cell(&event["dedup_key"]),
            cell(&event["run_id"]),
            cell(&event["duplicates"]),
            bytes(event),
        ]);
        table.row(row);
    }
    format!("{table}{}", next_page(list))
}

/// The body's size, and whether it is past the payload retention.
fn bytes(event: &Value) -> String {
    let size = cell(&event["body_bytes"]);
    if event["body_expired"] == true {
        format!("{size} (expired)")
    } else {
        size
    }
}

/// `events show`: the fields, the headers, the body, then the lineage as a tree.
fn shown(event: &Value) -> String {
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&event["id"])])
        .row(["source", &cell(&event["source_id"])])
        .row(["received", &time(&event["received_at"])])
        .row(["status", &cell(&event["status"])])
        .row(["event", &cell(&event["event_name"])])
        .row(["dedup key", &cell(&event["dedup_key"])])
        .row(["run", &cell(&event["run_id"])])
        .row(["duplicates", &cell(&event["duplicates"])])
        .row(["last duplicate", &time(&event["last_duplicate_at"])])
        .row(["body bytes", &cell(&event["body_bytes"])]);
    format!(
        "{fields}\n{}\n{}\nlineage\n{}",
        headers(&event["headers"]),
        body(event),
        lineage_tree(event)
    )
}

/// `name: value` per header, sorted by name.
fn headers(headers: &Value) -> String {
    let mut lines: Vec<String> = headers
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| format!("{}: {}\n", table::clean(name), table::clean(&cell(value))))
        .collect();
    if lines.is_empty() {
        return "headers (none)\n".to_owned();
    }
    lines.sort();
    format!("headers\n{}", lines.concat())
}

/// The body as text, as base64 when it is not UTF-8, or why there is none.
fn body(event: &Value) -> String {
    if event["body_expired"] == true {
        return "body expired (past the payload retention; the event stays listed)\n".to_owned();
    }
    if let Some(text) = event["body"].as_str() {
        return match text {
            "" => "body (empty)\n".to_owned(),
            text => format!("body\n{}", table::text(text)),
        };
    }
    if let Some(base64) = event["body_base64"].as_str() {
        return format!("body (not UTF-8 text; base64)\n{}", table::text(base64));
    }
    "body -\n".to_owned()
}

/// The lineage of `GET /v1/ingress-events/{id}` as a tree: the request, the secret that
/// verified it, its run with the run's events, and the deliveries they made.
fn lineage_tree(event: &Value) -> String {
    let lineage = &event["lineage"];
    let mut about = vec![cell(&event["source_id"])];
    if !event["event_name"].is_null() {
        about.push(cell(&event["event_name"]));
    }
    if !event["dedup_key"].is_null() {
        about.push(format!("delivery {}", cell(&event["dedup_key"])));
    }
    let received = match &lineage["received_at"] {
        Value::Null => &event["received_at"],
        at => at,
    };
    let root = Tree::new(format!(
        "{} received {} ({})",
        cell(&event["id"]),
        time(received),
        about.join(", ")
    ));
    let verified_by = &lineage["verified_by"];
    let verified = match &verified_by["fingerprint"] {
        Value::Null => format!(
            "verified by {} (since deleted)",
            cell(&verified_by["secret_id"])
        ),
        fingerprint => format!(
            "verified by {} (fingerprint {})",
            cell(&verified_by["secret_id"]),
            cell(fingerprint)
        ),
    };
    let deliveries = delivery_tree(&lineage["deliveries"]);
    let run = &lineage["run"];
    let root = root.child(Tree::new(verified));
    if run.is_null() {
        let why = match event["status"].as_str() {
            Some("ignored") => "no run: its event is not in the source's event filter",
            Some("handshake") => "no run: a sender's handshake, answered by hookgate",
            _ => "no run",
        };
        let root = root.child(Tree::new(why));
        return match deliveries {
            Some(deliveries) => root.child(deliveries),
            None => root,
        }
        .to_string();
    }
    let published = match &run["published_at"] {
        Value::Null => "not published yet".to_owned(),
        at => format!("published {}", time(at)),
    };
    let run_node = Tree::new(format!(
        "run {} {}, {published}",
        cell(&run["id"]),
        cell(&run["status"])
    ))
    .children(run_events(&run["events"]))
    .child(deliveries.unwrap_or_else(|| Tree::new("no deliveries")));
    root.child(run_node).to_string()
}

/// `seq type occurred_at` per run event, sequence numbers and types in columns.
fn run_events(events: &Value) -> Vec<Tree> {
    let events = events.as_array().map(Vec::as_slice).unwrap_or_default();
    let seqs: Vec<String> = events.iter().map(|e| cell(&e["seq"])).collect();
    let types: Vec<String> = events.iter().map(|e| cell(&e["type"])).collect();
    let seq_width = seqs.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let type_width = types.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    events
        .iter()
        .zip(seqs.iter().zip(&types))
        .map(|(event, (seq, kind))| {
            Tree::new(format!(
                "{seq:>seq_width$} {kind:<type_width$} {}",
                time(&event["occurred_at"])
            ))
        })
        .collect()
}

/// `deliveries` with one child per delivery; `None` when there are none.
fn delivery_tree(deliveries: &Value) -> Option<Tree> {
    let deliveries = deliveries.as_array().filter(|d| !d.is_empty())?;
    Some(
        Tree::new("deliveries").children(deliveries.iter().map(|delivery| {
            Tree::new(format!(
                "{} → {} {} {} ({})",
                cell(&delivery["id"]),
                cell(&delivery["endpoint_id"]),
                cell(&delivery["event_type"]),
                cell(&delivery["status"]),
                count(&delivery["attempts"], "attempt", "attempts")
            ))
        })),
    )
}

/// `events replay`: the new run, and the event it replays.
fn replayed(reply: &Value) -> String {
    let run = &reply["run"];
    let mut fields = Table::fields();
    fields
        .row(["run", &cell(&run["id"])])
        .row(["status", &cell(&run["status"])])
        .row(["replay of", &cell(&run["replay_of"])]);
    fields.to_string()
}

fn published(reply: &Value) -> String {
    let mut fields = Table::fields();
    fields
        .row(["event", &cell(&reply["event_id"])])
        .row(["deliveries", &cell(&reply["deliveries"])]);
    let note = if reply["duplicate"] == true {
        "(duplicate: this event id was published before; nothing new was delivered)\n"
    } else {
        ""
    };
    format!("{fields}{note}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventDisposition;
    use clap::Parser;

    fn publish_body(args: &[&str]) -> Result<Value, clap::Error> {
        let argv = ["hookgate", "events", "publish", "--org", "acme"];
        let cli = crate::cli::Cli::try_parse_from(argv.iter().chain(args))?;
        match cli.command {
            crate::cli::Command::Operator(crate::cli::Operator::Events(
                EventsCommand::Publish(publish),
            )) => Ok(publish.body()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn publish_body_holds_what_was_given_and_leaves_the_rest_to_the_api() {
        assert_eq!(
            publish_body(&["--type", "run.completed"]).unwrap(),
            json!({"type": "run.completed"})
        );
        assert_eq!(
            publish_body(&[
                "--type",
                "run.failed",
                "--event-id",
                "evt_1",
                "--run-id",
                "run_1",
                "--workflow-id",
                "wf",
                "--data",
                r#"{"error":{"code":"oom"}}"#,
            ])
            .unwrap(),
            json!({"type": "run.failed", "event_id": "evt_1", "run_id": "run_1",
                   "workflow_id": "wf", "data": {"error": {"code": "oom"}}})
        );
    }

    #[test]
    fn data_that_is_not_a_json_object_is_refused_before_any_request() {
        for bad in ["[1]", "\"x\"", "{", "null"] {
            assert!(
                publish_body(&["--type", "t", "--data", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn replayed_event_id_is_called_a_duplicate() {
        let fresh = published(&json!({"event_id": "evt_1", "deliveries": 2, "duplicate": false}));
        assert_eq!(fresh, "event       evt_1\ndeliveries  2\n");
        let replay = published(&json!({"event_id": "evt_1", "deliveries": 0, "duplicate": true}));
        assert!(replay.contains("duplicate"), "{replay}");
    }

    fn list_query(args: &[&str], now: &str) -> Result<Vec<(&'static str, String)>, clap::Error> {
        let argv = ["hookgate", "events", "list", "--org", "acme"];
        let cli = crate::cli::Cli::try_parse_from(argv.iter().chain(args))?;
        let now = DateTime::parse_from_rfc3339(now).unwrap().to_utc();
        match cli.command {
            crate::cli::Command::Operator(crate::cli::Operator::Events(EventsCommand::List(
                list,
            ))) => Ok(list.query(now)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_flags_become_the_api_query_with_since_resolved_at_now() {
        let now = "2024-05-01T12:00:00Z";
        assert_eq!(list_query(&[], now).unwrap(), []);
        let query = list_query(
            &[
                "--source",
                "src_1",
                "--dedup-key",
                "72d3162e",
                "--status",
                "handshake",
                "--since",
                "2h",
                "--limit",
                "5",
                "--cursor",
                "c1",
            ],
            now,
        )
        .unwrap();
        let expected = [
            ("source_id", "src_1"),
            ("dedup_key", "72d3162e"),
            ("status", "handshake"),
            ("since", "2024-05-01T10:00:00Z"),
            ("limit", "5"),
            ("cursor", "c1"),
        ]
        .map(|(name, value)| (name, value.to_owned()));
        assert_eq!(query, expected);
    }

    #[test]
    fn unknown_status_and_unreadable_since_are_refused_before_any_request() {
        let now = "2024-05-01T12:00:00Z";
        assert!(list_query(&["--status", "lost"], now).is_err());
        assert!(list_query(&["--since", "yesterday"], now).is_err());
        assert!(list_query(&["--since", "7200"], now).is_err());
    }

    /// The choice for each status the API knows: a new `EventDisposition` fails to
    /// compile here until `--status` offers it.
    fn choice(status: EventDisposition) -> EventStatus {
        match status {
            EventDisposition::Accepted => EventStatus::Accepted,
            EventDisposition::Ignored => EventStatus::Ignored,
            EventDisposition::Handshake => EventStatus::Handshake,
        }
    }

    #[test]
    fn every_status_is_sent_as_the_api_spells_it() {
        for status in EventStatus::value_variants() {
            let spelled = wire(*status);
            let parsed = EventDisposition::parse(&spelled)
                .unwrap_or_else(|| panic!("the API does not know {spelled:?}"));
            assert_eq!(choice(parsed), *status);
        }
    }

    fn row(id: &str, status: &str, run: Value, expired: bool) -> Value {
        json!({"id": id, "source_id": "src_1", "received_at": "2024-05-01T12:00:00.25Z",
               "status": status, "event_name": "push", "dedup_key": "72d3", "run_id": run,
               "duplicates": 1, "last_duplicate_at": null, "body_bytes": 24,
               "body_expired": expired})
    }

    #[test]
    fn event_lists_show_run_duplicates_size_and_expiry_with_the_source_when_org_wide() {
        let list = json!({"data": [
            row("evt_2", "handshake", json!(null), false),
            row("evt_1", "accepted", json!("run_1"), true),
        ], "next_cursor": "evt_1"});
        assert_eq!(
            event_table(&list, false),
            "ID     RECEIVED              STATUS     EVENT  DEDUP KEY  RUN    DUPLICATES  BYTES\n\
             evt_2  2024-05-01 12:00:00Z  handshake  push   72d3       -      1           24\n\
             evt_1  2024-05-01 12:00:00Z  accepted   push   72d3       run_1  1           24 (expired)\n\
             (more: --cursor evt_1)\n"
        );
        let org_wide = event_table(
            &json!({"data": [row("evt_1", "accepted", json!("run_1"), false)],
                                           "next_cursor": null}),
            true,
        );
        assert_eq!(
            org_wide,
            "ID     SOURCE  RECEIVED              STATUS    EVENT  DEDUP KEY  RUN    DUPLICATES  BYTES\n\
             evt_1  src_1   2024-05-01 12:00:00Z  accepted  push   72d3       run_1  1           24\n"
        );
    }

    /// An event as `GET /v1/ingress-events/{id}` answers, with this status, run and
    /// deliveries.
    fn detail(status: &str, run: Value, deliveries: Value) -> Value {
        json!({
            "id": "evt_1", "source_id": "src_1", "received_at": "2024-05-01T12:00:00.5Z",
            "status": status, "event_name": "push", "dedup_key": "72d3", "run_id": run["id"],
            "duplicates": 0, "last_duplicate_at": null, "body_bytes": 2, "body_expired": false,
            "headers": {}, "body": "{}",
            "lineage": {
                "received_at": "2024-05-01T12:00:00.5Z",
                "verified_by": {"secret_id": "sec_1", "fingerprint": "1a2b3c4d"},
                "run": run, "deliveries": deliveries,
            },
        })
    }

    fn completed_run() -> Value {
        json!({"id": "run_1", "status": "completed", "published_at": "2024-05-01T12:00:01Z",
        "events": [
            {"seq": 1, "type": "run.started", "occurred_at": "2024-05-01T12:00:02Z"},
            {"seq": 2, "type": "run.completed", "occurred_at": "2024-05-01T12:00:09Z"},
        ]})
    }

    #[test]
    fn lineage_tree_follows_the_request_to_its_run_events_and_deliveries() {
        let delivered = |id: &str, endpoint: &str, attempts: u32| {
            json!({"id": id, "endpoint_id": endpoint, "event_type": "run.completed",
                   "status": if attempts == 1 { "delivered" } else { "failed" },
                   "attempts": attempts})
        };
        let cases: [(&str, Value, &[&str]); 6] = [
            (
                "accepted, its run reported twice and delivered to two endpoints",
                detail(
                    "accepted",
                    completed_run(),
                    json!([delivered("dlv_1", "ep_1", 1), delivered("dlv_2", "ep_2", 5)]),
                ),
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)",
                    "├─ verified by sec_1 (fingerprint 1a2b3c4d)",
                    "└─ run run_1 completed, published 2024-05-01 12:00:01Z",
                    "   ├─ 1 run.started   2024-05-01 12:00:02Z",
                    "   ├─ 2 run.completed 2024-05-01 12:00:09Z",
                    "   └─ deliveries",
                    "      ├─ dlv_1 → ep_1 run.completed delivered (1 attempt)",
                    "      └─ dlv_2 → ep_2 run.completed failed (5 attempts)",
                ],
            ),
            (
                "accepted, one delivery",
                detail(
                    "accepted",
                    completed_run(),
                    json!([delivered("dlv_1", "ep_1", 1)]),
                ),
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)",
                    "├─ verified by sec_1 (fingerprint 1a2b3c4d)",
                    "└─ run run_1 completed, published 2024-05-01 12:00:01Z",
                    "   ├─ 1 run.started   2024-05-01 12:00:02Z",
                    "   ├─ 2 run.completed 2024-05-01 12:00:09Z",
                    "   └─ deliveries",
                    "      └─ dlv_1 → ep_1 run.completed delivered (1 attempt)",
                ],
            ),
            (
                "accepted, no endpoint took its events",
                detail("accepted", completed_run(), json!([])),
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)",
                    "├─ verified by sec_1 (fingerprint 1a2b3c4d)",
                    "└─ run run_1 completed, published 2024-05-01 12:00:01Z",
                    "   ├─ 1 run.started   2024-05-01 12:00:02Z",
                    "   ├─ 2 run.completed 2024-05-01 12:00:09Z",
                    "   └─ no deliveries",
                ],
            ),
            (
                "accepted, its run not published yet and without events",
                detail(
                    "accepted",
                    json!({"id": "run_1", "status": "queued", "published_at": null,
                           "events": []}),
                    json!([]),
                ),
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)",
                    "├─ verified by sec_1 (fingerprint 1a2b3c4d)",
                    "└─ run run_1 queued, not published yet",
                    "   └─ no deliveries",
                ],
            ),
            (
                "ignored by the event filter",
                detail("ignored", json!(null), json!([])),
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)",
                    "├─ verified by sec_1 (fingerprint 1a2b3c4d)",
                    "└─ no run: its event is not in the source's event filter",
                ],
            ),
            (
                "a handshake without dedup key, verified by a secret since deleted",
                {
                    let mut event = detail("handshake", json!(null), json!([]));
                    event["dedup_key"] = json!(null);
                    event["event_name"] = json!("ping");
                    event["lineage"]["verified_by"]["fingerprint"] = json!(null);
                    event
                },
                &[
                    "evt_1 received 2024-05-01 12:00:00Z (src_1, ping)",
                    "├─ verified by sec_1 (since deleted)",
                    "└─ no run: a sender's handshake, answered by hookgate",
                ],
            ),
        ];
        for (name, event, expected) in cases {
            assert_eq!(
                lineage_tree(&event),
                format!("{}\n", expected.join("\n")),
                "{name}"
            );
        }
    }

    #[test]
    fn lineage_text_from_the_sender_is_escaped() {
        let mut event = detail("ignored", json!(null), json!([]));
        event["event_name"] = json!("push\u{1b}[2J");
        event["dedup_key"] = json!("x\u{202e}y");
        let tree = lineage_tree(&event);
        assert!(
            tree.starts_with("evt_1 received 2024-05-01 12:00:00Z (src_1, push\\u{1b}[2J, delivery x\\u{202e}y)\n"),
            "{tree}"
        );
    }

    #[test]
    fn show_prints_fields_sorted_headers_the_body_as_is_then_the_lineage() {
        let mut event = detail("ignored", json!(null), json!([]));
        event["headers"] = json!({"x-hub-signature-256": "[redacted]",
                                  "content-type": "application/json",
                                  "x-evil": "a\u{1b}]0;pwned\u{7}"});
        event["body"] = json!("{\n  \"ref\": \"main\"\u{1b}[2J\n}");
        assert_eq!(
            shown(&event),
            "id              evt_1\n\
             source          src_1\n\
             received        2024-05-01 12:00:00Z\n\
             status          ignored\n\
             event           push\n\
             dedup key       72d3\n\
             run             -\n\
             duplicates      0\n\
             last duplicate  -\n\
             body bytes      2\n\
             \n\
             headers\n\
             content-type: application/json\n\
             x-evil: a\\u{1b}]0;pwned\\u{7}\n\
             x-hub-signature-256: [redacted]\n\
             \n\
             body\n\
             {\n  \"ref\": \"main\"\\u{1b}[2J\n}\n\
             \n\
             lineage\n\
             evt_1 received 2024-05-01 12:00:00Z (src_1, push, delivery 72d3)\n\
             ├─ verified by sec_1 (fingerprint 1a2b3c4d)\n\
             └─ no run: its event is not in the source's event filter\n"
        );
    }

    #[test]
    fn bodies_that_are_not_text_or_no_longer_kept_say_so() {
        let mut event = detail("accepted", completed_run(), json!([]));
        event.as_object_mut().unwrap().remove("body");
        event["body_base64"] = json!("/wA=");
        assert_eq!(body(&event), "body (not UTF-8 text; base64)\n/wA=\n");
        event.as_object_mut().unwrap().remove("body_base64");
        event["body_expired"] = json!(true);
        assert!(body(&event).starts_with("body expired"), "{}", body(&event));
        event["body_expired"] = json!(false);
        event["body"] = json!("");
        assert_eq!(body(&event), "body (empty)\n");
        assert_eq!(headers(&json!({})), "headers (none)\n");
    }

    #[test]
    fn replay_prints_the_new_run_and_the_event_it_replays() {
        let reply = json!({"run": {"id": "run_2", "status": "queued", "replay_of": "evt_1"}});
        assert_eq!(
            replayed(&reply),
            "run        run_2\nstatus     queued\nreplay of  evt_1\n"
        );
    }
}
