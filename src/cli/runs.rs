//! `hookgate runs list|show|events|cancel` over `/v1/orgs/{org}/runs`, `/v1/runs/{id}`,
//! its `events` and `cancel` (SPEC §4, §7, §12): the workflow runs that webhooks and the
//! trigger API started, where each one is, its timeline (listed, or followed live with
//! [`follow`]), and asking its scheduler to cancel it.

use super::follow::{follow, Event, FollowError, RunStream};
use super::table::{self, cell, time, Columns, Table};
use super::{next_page, wire, ApiArgs, Page};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// List an org's runs, newest first.
    List {
        #[arg(long)]
        org: String,
        /// Only runs in this state.
        #[arg(long)]
        status: Option<Status>,
        /// Only runs of this workflow.
        #[arg(long, value_name = "WORKFLOW_ID")]
        workflow: Option<String>,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a run: its workflow, state, what started it, when it was published, and
    /// when a cancel was requested.
    Show {
        run_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// A run's events in order: what its scheduler reported (run.started, …,
    /// run.completed) and hookgate's own run.cancel_requested. With --follow, printed as
    /// they happen until the run ends.
    Events(EventsArgs),
    /// Ask a run's scheduler to cancel it. The run becomes `cancelled` when the
    /// scheduler reports run.cancelled; asking again changes nothing, and a run that has
    /// ended has nothing to cancel.
    Cancel {
        run_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    run_id: String,
    /// Only the events after this seq.
    #[arg(long, value_name = "SEQ")]
    after: Option<u32>,
    /// Print the events so far, then each new one as it happens (one line each, or one
    /// JSON object per line with --json), and exit once the run has ended. A broken
    /// connection is resumed where it stopped: nothing is printed twice or missed.
    #[arg(long, conflicts_with_all = ["limit", "cursor"])]
    follow: bool,
    #[command(flatten)]
    page: Page,
    #[command(flatten)]
    api: ApiArgs,
}

impl EventsArgs {
    /// The query of a page of `GET /v1/runs/{id}/events`.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(after) = self.after {
            query.push(("after", after.to_string()));
        }
        query.extend(self.page.query());
        query
    }
}

/// A run's state, as the API spells it (`store::RunStatus`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Recorded, not yet published to the broker.
    Queued,
    /// Published to the broker; the scheduler has not reported on it yet.
    Published,
    /// The scheduler reported that it started.
    Running,
    Completed,
    Failed,
    Cancelled,
}

pub async fn run(command: RunsCommand) -> anyhow::Result<()> {
    match command {
        RunsCommand::List {
            org,
            status,
            workflow,
            page,
            api,
        } => {
            let mut query = Vec::new();
            if let Some(status) = status {
                query.push(("status", wire(status)));
            }
            if let Some(workflow) = workflow {
                query.push(("workflow_id", workflow));
            }
            query.extend(page.query());
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "runs"], &query)
                .await?;
            api.print(&reply, run_table);
        }
        RunsCommand::Show { run_id, api } => {
            let reply = api.client()?.get(&["v1", "runs", &run_id], &[]).await?;
            api.print(&reply, shown);
        }
        RunsCommand::Events(args) if args.follow => follow_events(&args).await?,
        RunsCommand::Events(args) => {
            let reply = args
                .api
                .client()?
                .get(&["v1", "runs", &args.run_id, "events"], &args.query())
                .await?;
            args.api.print(&reply, timeline_table);
        }
        RunsCommand::Cancel { run_id, api } => {
            let reply = api
                .client()?
                .post(&["v1", "runs", &run_id, "cancel"], &json!({}))
                .await?;
            let status = reply.status;
            api.print(&reply, |answer| cancelled(status, answer));
        }
    }
    Ok(())
}

/// `runs events --follow`: each event printed (and flushed) as it arrives. A closed
/// stdout (`| head`) ends it quietly.
async fn follow_events(args: &EventsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let mut stream = RunStream {
        client: &client,
        run_id: &args.run_id,
    };
    let columns = event_columns();
    let mut header = !args.api.json;
    let print = |event: &Event| {
        let mut out = std::io::stdout().lock();
        if std::mem::take(&mut header) {
            out.write_all(columns.line(TIMELINE_HEADER).as_bytes())?;
        }
        let line = if args.api.json {
            json_line(event)
        } else {
            columns.line(event_cells(&event.value))
        };
        out.write_all(line.as_bytes())?;
        out.flush()
    };
    match follow(&mut stream, args.after.map(u64::from), print).await {
        Err(FollowError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        outcome => Ok(outcome?),
    }
}

const TIMELINE_HEADER: [&str; 5] = ["SEQ", "OCCURRED", "TYPE", "EVENT ID", "DATA"];

/// The timeline's columns for lines printed one at a time: wide enough for a seq, a
/// time, `run.cancel_requested` and an `evt_…` id.
fn event_columns() -> Columns {
    Columns::new(&[3, 20, 20, 30])
}

/// An event's cells: its data as compact JSON.
fn event_cells(event: &Value) -> [String; 5] {
    [
        cell(&event["seq"]),
        time(&event["occurred_at"]),
        cell(&event["type"]),
        cell(&event["event_id"]),
        cell(&event["data"]),
    ]
}

/// A followed event with --json: the `data:` payload as received, on one line (joined
/// into compact JSON if the stream split it over several).
fn json_line(event: &Event) -> String {
    if event.text.contains('\n') {
        format!("{}\n", event.value)
    } else {
        format!("{}\n", event.text)
    }
}

fn timeline_table(list: &Value) -> String {
    let mut table = Table::new(TIMELINE_HEADER);
    for event in list["data"].as_array().into_iter().flatten() {
        table.row(event_cells(event));
    }
    format!("{table}{}", next_page(list))
}

/// The answer to a cancel: 202 when it was requested (now or before), 200 when the run
/// had already ended.
fn cancelled(status: u16, answer: &Value) -> String {
    let run = &answer["run"];
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&run["id"])])
        .row(["status", &cell(&run["status"])])
        .row(["cancel requested", &time(&run["cancel_requested_at"])]);
    let outcome = if status == 202 {
        format!(
            "cancel requested at {}: the run is cancelled when its scheduler reports run.cancelled",
            time(&run["cancel_requested_at"])
        )
    } else {
        format!(
            "run already ended ({}): nothing to cancel",
            cell(&run["status"])
        )
    };
    format!("{fields}{}\n", table::clean(&outcome))
}

fn run_table(list: &Value) -> String {
    let mut table = Table::new([
        "ID", "WORKFLOW", "STATUS", "TRIGGER", "SOURCE", "CREATED", "UPDATED",
    ]);
    for run in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&run["id"]),
            cell(&run["workflow_id"]),
            cell(&run["status"]),
            cell(&run["trigger"]["type"]),
            cell(&run["trigger"]["source_id"]),
            time(&run["created_at"]),
            time(&run["updated_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}

fn shown(run: &Value) -> String {
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&run["id"])])
        .row(["org", &cell(&run["org"])])
        .row(["workflow", &cell(&run["workflow_id"])])
        .row(["status", &cell(&run["status"])])
        .row(["trigger", &cell(&run["trigger"]["type"])])
        .row(["source", &cell(&run["trigger"]["source_id"])])
        .row(["event", &cell(&run["trigger"]["event_id"])])
        .row(["created", &time(&run["created_at"])])
        .row(["published", &time(&run["published_at"])]);
    if !run["cancel_requested_at"].is_null() {
        fields.row(["cancel requested", &time(&run["cancel_requested_at"])]);
    }
    fields.row(["updated", &time(&run["updated_at"])]);
    fields.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunStatus;
    use serde_json::json;

    /// The choice for each status the API knows: a new `RunStatus` fails to compile
    /// here until `--status` offers it.
    fn choice(status: RunStatus) -> Status {
        match status {
            RunStatus::Queued => Status::Queued,
            RunStatus::Published => Status::Published,
            RunStatus::Running => Status::Running,
            RunStatus::Completed => Status::Completed,
            RunStatus::Failed => Status::Failed,
            RunStatus::Cancelled => Status::Cancelled,
        }
    }

    #[test]
    fn every_status_is_sent_as_the_api_spells_it() {
        for status in Status::value_variants() {
            let spelled = wire(*status);
            let parsed = RunStatus::parse(&spelled)
                .unwrap_or_else(|| panic!("the API does not know {spelled:?}"));
            assert_eq!(choice(parsed), *status);
        }
    }

    #[test]
    fn run_list_shows_workflow_status_and_what_started_it() {
        let list = json!({"data": [
            {"id": "run_2", "org": "acme", "workflow_id": "wf_nightly", "status": "published",
             "trigger": {"type": "api", "source_id": null, "event_id": null},
             "created_at": "2024-05-01T12:01:00Z", "updated_at": "2024-05-01T12:01:01Z",
             "published_at": "2024-05-01T12:01:01Z"},
            {"id": "run_1", "org": "acme", "workflow_id": "wf_deploy", "status": "completed",
             "trigger": {"type": "webhook", "source_id": "src_1", "event_id": "evt_1"},
             "created_at": "2024-05-01T12:00:00.5Z", "updated_at": "2024-05-01T12:00:09Z",
             "published_at": "2024-05-01T12:00:01Z"}
        ], "next_cursor": "run_1"});
        assert_eq!(
            run_table(&list),
            "ID     WORKFLOW    STATUS     TRIGGER  SOURCE  CREATED               UPDATED\n\
             run_2  wf_nightly  published  api      -       2024-05-01 12:01:00Z  2024-05-01 12:01:01Z\n\
             run_1  wf_deploy   completed  webhook  src_1   2024-05-01 12:00:00Z  2024-05-01 12:00:09Z\n\
             (more: --cursor run_1)\n"
        );
    }

    #[test]
    fn run_show_names_the_event_that_started_it_and_when_it_was_published() {
        let run = json!({"id": "run_1", "org": "acme", "workflow_id": "wf_deploy",
            "status": "queued", "trigger": {"type": "webhook", "source_id": "src_1",
            "event_id": "evt_1"}, "created_at": "2024-05-01T12:00:00Z",
            "updated_at": "2024-05-01T12:00:00Z", "published_at": null});
        assert_eq!(
            shown(&run),
            "id         run_1\n\
             org        acme\n\
             workflow   wf_deploy\n\
             status     queued\n\
             trigger    webhook\n\
             source     src_1\n\
             event      evt_1\n\
             created    2024-05-01 12:00:00Z\n\
             published  -\n\
             updated    2024-05-01 12:00:00Z\n"
        );
    }
    #[test]
    fn run_show_says_when_a_cancel_was_requested() {
        let run = json!({"id": "run_1", "org": "acme", "workflow_id": "wf", "status": "running",
            "trigger": {"type": "api", "source_id": null, "event_id": null},
            "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:05Z",
            "published_at": "2024-05-01T12:00:01Z",
            "cancel_requested_at": "2024-05-01T12:00:04.25Z"});
        assert!(
            shown(&run).contains(
                "\npublished         2024-05-01 12:00:01Z\n\
                                  cancel requested  2024-05-01 12:00:04Z\n\
                                  updated           2024-05-01 12:00:05Z\n"
            ),
            "{}",
            shown(&run)
        );
    }

    fn timeline() -> Value {
        json!({"data": [
            {"seq": 1, "event_id": "evt_1", "type": "run.started",
             "occurred_at": "2024-05-01T12:00:00.5Z", "data": {}},
            {"seq": 2, "event_id": "run_1.cancel_requested", "type": "run.cancel_requested",
             "occurred_at": "2024-05-01T12:00:01Z", "data": {"actor": "operator"}},
            {"seq": 3, "event_id": "evt_3", "type": "run.step\u{1b}[2J",
             "occurred_at": "2024-05-01T12:00:02Z", "data": {"log": "line\nnext\u{202e}"}}
        ], "next_cursor": "Mw"})
    }

    #[test]
    fn timeline_lists_events_in_order_with_data_as_escaped_compact_json() {
        assert_eq!(
            timeline_table(&timeline()),
            "SEQ  OCCURRED              TYPE                  EVENT ID                DATA\n\
             1    2024-05-01 12:00:00Z  run.started           evt_1                   -\n\
             2    2024-05-01 12:00:01Z  run.cancel_requested  run_1.cancel_requested  {\"actor\":\"operator\"}\n\
             3    2024-05-01 12:00:02Z  run.step\\u{1b}[2J     evt_3                   {\"log\":\"line\\nnext\\u{202e}\"}\n\
             (more: --cursor Mw)\n"
        );
    }

    #[test]
    fn followed_events_print_one_line_each_under_the_same_header() {
        let columns = event_columns();
        let list = timeline();
        let lines: Vec<String> = std::iter::once(columns.line(TIMELINE_HEADER))
            .chain(
                list["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| columns.line(event_cells(e))),
            )
            .collect();
        assert_eq!(
            lines.concat(),
            "SEQ  OCCURRED              TYPE                  EVENT ID                        DATA\n\
             1    2024-05-01 12:00:00Z  run.started           evt_1                           -\n\
             2    2024-05-01 12:00:01Z  run.cancel_requested  run_1.cancel_requested          {\"actor\":\"operator\"}\n\
             3    2024-05-01 12:00:02Z  run.step\\u{1b}[2J     evt_3                           {\"log\":\"line\\nnext\\u{202e}\"}\n"
        );
    }

    #[test]
    fn followed_events_with_json_are_one_object_per_line_as_received() {
        let event = |text: &str| Event {
            seq: 1,
            event_type: "run.started".into(),
            value: serde_json::from_str(text).unwrap(),
            text: text.into(),
        };
        let received = r#"{"seq":1,"type":"run.started", "data":{}}"#;
        assert_eq!(json_line(&event(received)), format!("{received}\n"));
        assert_eq!(
            json_line(&event("{\"seq\":1,\n\"data\":{}}")),
            "{\"data\":{},\"seq\":1}\n",
            "data lines joined by the stream are put back on one line"
        );
    }

    #[test]
    fn cancel_says_whether_it_was_requested_or_the_run_had_ended() {
        let requested = json!({"run": {"id": "run_1", "status": "running",
            "cancel_requested_at": "2024-05-01T12:00:04.25Z"}});
        assert_eq!(
            cancelled(202, &requested),
            "id                run_1\n\
             status            running\n\
             cancel requested  2024-05-01 12:00:04Z\n\
             cancel requested at 2024-05-01 12:00:04Z: the run is cancelled when its \
             scheduler reports run.cancelled\n"
        );
        let ended = json!({"run": {"id": "run_1", "status": "completed",
            "cancel_requested_at": null}});
        assert_eq!(
            cancelled(200, &ended),
            "id                run_1\n\
             status            completed\n\
             cancel requested  -\n\
             run already ended (completed): nothing to cancel\n"
        );
        let hostile = json!({"run": {"id": "run_1", "status": "x\u{1b}[2J"}});
        assert!(cancelled(200, &hostile)
            .ends_with("run already ended (x\\u{1b}[2J): nothing to cancel\n"));
    }

    #[test]
    fn follow_refuses_a_page_and_after_must_be_a_seq() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(
                [&["hookgate", "runs", "events", "run_1"], args].concat(),
            )
        };
        assert!(parse(&["--follow", "--after", "3", "--json"]).is_ok());
        assert!(parse(&["--limit", "3", "--cursor", "x", "--after", "1"]).is_ok());
        for bad in [
            &["--follow", "--limit", "3"][..],
            &["--follow", "--cursor", "x"],
            &["--after", "-1"],
            &["--after", "three"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
