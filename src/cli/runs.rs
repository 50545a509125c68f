//! `hookgate runs list|show` over `/v1/orgs/{org}/runs` and `/v1/runs/{id}` (SPEC §4,
//! §7, §12): the workflow runs that webhooks and the trigger API started, and where
//! each one is.

use super::table::{cell, time, Table};
use super::{next_page, wire, ApiArgs, Page};
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

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
    /// Show a run: its workflow, state, what started it, and when it was published.
    Show {
        run_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
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
    }
    Ok(())
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
        .row(["published", &time(&run["published_at"])])
        .row(["updated", &time(&run["updated_at"])]);
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
}
