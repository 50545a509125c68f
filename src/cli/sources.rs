//! `hookgate sources …` over `/v1/orgs/{org}/sources` and `/v1/sources/{id}` (SPEC §3.1,
//! §5, §7.1, §11: quiet sources and the webhooks a source received).

use super::events::{event_table, EventStatus};
use super::secrets::{rotated, secret_table, Rotation};
use super::table::{cell, seconds, time, Table};
use super::verifier::{VerifierArgs, VerifierArgsError};
use super::{joined_json, next_page, wire, ApiArgs, Page};
use crate::duration;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum SourcesCommand {
    /// Create a source; prints its id, ingress URL and secret (the secret only this once).
    Create(CreateArgs),
    /// Change when a source counts as quiet; prints the source.
    Update {
        source_id: String,
        #[command(flatten)]
        quiet: QuietChange,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List an org's sources.
    List {
        #[arg(long)]
        org: String,
        /// Only the quiet sources: those that received nothing for their --quiet-after.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The webhooks a source received, newest first: outcome, sender's delivery id,
    /// run, duplicates (`hookgate events show <id>` for one with its lineage).
    Events {
        source_id: String,
        /// Only events with this outcome.
        #[arg(long)]
        status: Option<EventStatus>,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a source and its secrets' metadata. With --json:
    /// {"source": <GET /v1/sources/{id}>, "secrets": <GET /v1/sources/{id}/secrets>}.
    Show {
        source_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make a new current secret; the previous ones keep verifying for the grace period.
    RotateSecret {
        source_id: String,
        #[command(flatten)]
        rotation: Rotation,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Expire one secret now (e.g. after a compromise, or once senders have switched).
    ExpireSecret {
        source_id: String,
        secret_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Recent refused requests: time, reason, names of the headers sent.
    Rejections {
        source_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    org: String,
    #[arg(long)]
    name: String,
    /// The workflow each accepted event starts.
    #[arg(long, value_name = "WORKFLOW_ID")]
    workflow: String,
    #[command(flatten)]
    verifier: VerifierArgs,
    /// The sender's own secret (GitHub, Stripe, Shopify, Slack generate theirs);
    /// generated when absent.
    #[arg(long)]
    secret: Option<String>,
    /// Comma-separated event names that create runs (default: all).
    #[arg(long, value_delimiter = ',', value_name = "EVENTS")]
    event_filter: Vec<String>,
    /// Largest accepted body in bytes (the API's default: 1 MiB).
    #[arg(long, value_name = "N")]
    max_body_bytes: Option<u64>,
    /// Count the source as quiet once it received nothing for this long: `30m`, `1h`,
    /// `7d` or seconds, at most 365d (default: never).
    #[arg(long, value_parser = parse_quiet_after, value_name = "DURATION")]
    quiet_after: Option<u32>,
    #[command(flatten)]
    api: ApiArgs,
}

/// `sources update`: a new quiet threshold, or none.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct QuietChange {
    /// Count the source as quiet once it received nothing for this long: `30m`, `1h`,
    /// `7d` or seconds, at most 365d.
    #[arg(long, value_parser = parse_quiet_after, value_name = "DURATION")]
    quiet_after: Option<u32>,
    /// Never count the source as quiet.
    #[arg(long)]
    no_quiet_after: bool,
}

impl QuietChange {
    /// The body of `PATCH /v1/sources/{id}`: null clears the threshold.
    fn body(&self) -> Value {
        json!({ "quiet_after_s": self.quiet_after })
    }
}

/// The longest `quiet_after_s` the API takes: a year.
const MAX_QUIET_AFTER_S: u64 = 365 * 86_400;

/// `--quiet-after`: a duration with unit or bare seconds, whole seconds from 1s to 365d
/// (what the API takes), as seconds.
fn parse_quiet_after(value: &str) -> Result<u32, String> {
    let after = match value.trim().parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => duration::parse(value)?,
    };
    if after.subsec_nanos() != 0 {
        return Err(format!("`{value}` is not a whole number of seconds"));
    }
    match u32::try_from(after.as_secs()) {
        Ok(seconds) if (1..=MAX_QUIET_AFTER_S).contains(&u64::from(seconds)) => Ok(seconds),
        _ => Err(format!("`{value}` is not between 1s and 365d")),
    }
}

impl CreateArgs {
    /// The request body of SPEC §7.1; options not given are left to the API's defaults.
    fn body(&self) -> Result<Value, VerifierArgsError> {
        let mut body = json!({
            "name": self.name,
            "workflow_id": self.workflow,
            "verifier": self.verifier.to_json()?,
        });
        if let Some(secret) = &self.secret {
            body["secret"] = json!(secret);
        }
        if !self.event_filter.is_empty() {
            body["event_filter"] = json!(self.event_filter);
        }
        if let Some(max) = self.max_body_bytes {
            body["max_body_bytes"] = json!(max);
        }
        if let Some(after) = self.quiet_after {
            body["quiet_after_s"] = json!(after);
        }
        Ok(body)
    }
}

pub async fn run(command: SourcesCommand) -> anyhow::Result<()> {
    match command {
        SourcesCommand::Create(args) => {
            let reply = args
                .api
                .client()?
                .post(&["v1", "orgs", &args.org, "sources"], &args.body()?)
                .await?;
            args.api.print(&reply, created);
        }
        SourcesCommand::Update {
            source_id,
            quiet,
            api,
        } => {
            let reply = api
                .client()?
                .patch(&["v1", "sources", &source_id], &quiet.body())
                .await?;
            api.print(&reply, |source| source_fields(source).to_string());
        }
        SourcesCommand::List {
            org,
            quiet,
            page,
            api,
        } => {
            let mut query = Vec::new();
            if quiet {
                query.push(("quiet", "true".to_owned()));
            }
            query.extend(page.query());
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "sources"], &query)
                .await?;
            api.print(&reply, source_table);
        }
        SourcesCommand::Events {
            source_id,
            status,
            page,
            api,
        } => {
            let mut query = Vec::new();
            if let Some(status) = status {
                query.push(("status", wire(status)));
            }
            query.extend(page.query());
            let reply = api
                .client()?
                .get(&["v1", "sources", &source_id, "events"], &query)
                .await?;
            api.print(&reply, |list| event_table(list, false));
        }
        SourcesCommand::Show { source_id, api } => {
            let client = api.client()?;
            let source = client.get(&["v1", "sources", &source_id], &[]).await?;
            let secrets = client
                .get(&["v1", "sources", &source_id, "secrets"], &[])
                .await?;
            if api.json {
                let parts = [("source", &*source.text), ("secrets", &*secrets.text)];
                println!("{}", joined_json(&parts)?);
            } else {
                print!("{}", shown(&source.value, &secrets.value));
            }
        }
        SourcesCommand::RotateSecret {
            source_id,
            rotation,
            api,
        } => {
            let path = ["v1", "sources", &source_id, "secrets", "rotate"];
            let reply = api.client()?.post(&path, &rotation.body()).await?;
            api.print(&reply, |reply| rotated(reply, "sender"));
        }
        SourcesCommand::ExpireSecret {
            source_id,
            secret_id,
            api,
        } => {
            let reply = api
                .client()?
                .delete(&["v1", "sources", &source_id, "secrets", &secret_id])
                .await?;
            api.print(&reply, |_| {
                format!("expired {secret_id} of {source_id}: it no longer verifies\n")
            });
        }
        SourcesCommand::Rejections { source_id, api } => {
            let reply = api
                .client()?
                .get(&["v1", "sources", &source_id, "rejections"], &[])
                .await?;
            api.print(&reply, rejection_table);
        }
    }
    Ok(())
}

fn created(reply: &Value) -> String {
    let mut table = Table::fields();
    table
        .row(["source", &cell(&reply["source"]["id"])])
        .row(["ingress url", &cell(&reply["ingress_url"])])
        .row(["secret", &cell(&reply["secret"])])
        .row(["quiet after", &seconds(&reply["source"]["quiet_after_s"])]);
    format!("{table}(the secret is shown this once: give it to the sender now)\n")
}

fn source_table(list: &Value) -> String {
    let mut table = Table::new([
        "ID",
        "NAME",
        "VERIFIER",
        "WORKFLOW",
        "ENABLED",
        "EVENTS",
        "QUIET AFTER",
        "LAST EVENT",
        "QUIET",
        "CREATED",
    ]);
    for source in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&source["id"]),
            cell(&source["name"]),
            cell(&source["verifier"]["type"]),
            cell(&source["workflow_id"]),
            cell(&source["enabled"]),
            events(&source["event_filter"]),
            seconds(&source["quiet_after_s"]),
            time(&source["last_event_at"]),
            cell(&source["quiet"]),
            time(&source["created_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}

fn events(filter: &Value) -> String {
    match cell(filter).as_str() {
        "-" => "(all)".to_owned(),
        events => events.to_owned(),
    }
}

fn shown(source: &Value, secrets: &Value) -> String {
    format!("{}\n{}", source_fields(source), secret_table(secrets))
}

/// A source object as `name  value` lines.
fn source_fields(source: &Value) -> Table {
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&source["id"])])
        .row(["name", &cell(&source["name"])])
        .row(["verifier", &cell(&source["verifier"]["type"])])
        .row(["verifier options", &verifier_options(&source["verifier"])])
        .row(["workflow", &cell(&source["workflow_id"])])
        .row(["enabled", &cell(&source["enabled"])])
        .row(["events", &events(&source["event_filter"])])
        .row(["max body bytes", &cell(&source["max_body_bytes"])])
        .row(["quiet after", &seconds(&source["quiet_after_s"])])
        .row(["last event", &time(&source["last_event_at"])])
        .row(["quiet", &cell(&source["quiet"])])
        .row(["ingress url", &cell(&source["ingress_url"])])
        .row(["created", &time(&source["created_at"])])
        .row(["updated", &time(&source["updated_at"])]);
    fields
}

/// The verifier object without its `type`, as compact JSON; `-` when there is nothing.
fn verifier_options(verifier: &Value) -> String {
    let mut options = verifier.as_object().cloned().unwrap_or_default();
    options.remove("type");
    if options.is_empty() {
        "-".to_owned()
    } else {
        Value::Object(options).to_string()
    }
}

fn rejection_table(list: &Value) -> String {
    let mut table = Table::new(["AT", "REASON", "HEADERS PRESENT"]);
    for rejection in list["data"].as_array().into_iter().flatten() {
        table.row([
            time(&rejection["at"]),
            cell(&rejection["reason"]),
            cell(&rejection["headers_present"]),
        ]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn create_body_holds_what_was_given_and_leaves_the_rest_to_the_api() {
        let parse = |args: &[&str]| {
            let argv = [
                "sources",
                "create",
                "--org",
                "acme",
                "--name",
                "gh",
                "--workflow",
                "wf",
            ];
            let cli = crate::cli::Cli::try_parse_from(["hookgate"].iter().chain(&argv).chain(args))
                .unwrap();
            match cli.command {
                crate::cli::Command::Operator(crate::cli::Operator::Sources(
                    SourcesCommand::Create(create),
                )) => create.body().unwrap(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            parse(&["--verifier", "github"]),
            json!({"name": "gh", "workflow_id": "wf", "verifier": {"type": "github"}})
        );
        assert_eq!(
            parse(&[
                "--verifier",
                "bearer",
                "--verifier-json",
                r#"{"header":"X-Token"}"#,
                "--secret",
                "s3",
                "--event-filter",
                "push,pull_request",
                "--max-body-bytes",
                "2048",
                "--quiet-after",
                "6h",
            ]),
            json!({"name": "gh", "workflow_id": "wf",
                   "verifier": {"type": "bearer", "header": "X-Token"}, "secret": "s3",
                   "event_filter": ["push", "pull_request"], "max_body_bytes": 2048,
                   "quiet_after_s": 21600})
        );
    }

    fn update(args: &[&str]) -> Result<Value, clap::Error> {
        let argv = ["hookgate", "sources", "update", "src_1"];
        let cli = crate::cli::Cli::try_parse_from(argv.iter().chain(args))?;
        match cli.command {
            crate::cli::Command::Operator(crate::cli::Operator::Sources(
                SourcesCommand::Update { quiet, .. },
            )) => Ok(quiet.body()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn update_sets_or_clears_the_quiet_threshold_and_needs_exactly_one_of_them() {
        assert_eq!(
            update(&["--quiet-after", "1h"]).unwrap(),
            json!({"quiet_after_s": 3600})
        );
        assert_eq!(
            update(&["--no-quiet-after"]).unwrap(),
            json!({"quiet_after_s": null})
        );
        assert!(update(&[]).is_err(), "nothing to change");
        assert!(update(&["--quiet-after", "1h", "--no-quiet-after"]).is_err());
    }

    #[test]
    fn quiet_after_takes_whole_seconds_from_one_second_to_a_year() {
        for (value, seconds) in [
            ("1h", 3600),
            ("90", 90),
            ("7d", 604_800),
            ("365d", 31_536_000),
        ] {
            assert_eq!(parse_quiet_after(value), Ok(seconds), "{value}");
        }
        for bad in ["0", "0s", "366d", "1500ms", "soon", "-1h", "99999999999d"] {
            assert!(parse_quiet_after(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn source_list_shows_one_row_per_source_with_verifier_type_events_and_quietness() {
        let list = json!({"data": [{
            "id": "src_2", "name": "stripe", "verifier": {"type": "stripe"},
            "workflow_id": "wf_bill", "enabled": true, "event_filter": [],
            "quiet_after_s": 3600, "last_event_at": "2024-05-01T10:00:00Z", "quiet": true,
            "created_at": "2024-05-01T09:00:00Z"
        }, {
            "id": "src_1", "name": "gh", "verifier": {"type": "github"},
            "workflow_id": "wf_deploy", "enabled": true, "event_filter": [],
            "quiet_after_s": null, "last_event_at": null, "quiet": false,
            "created_at": "2024-05-01T12:00:00.5Z"
        }], "next_cursor": "abc"});
        assert_eq!(
            source_table(&list),
            "ID     NAME    VERIFIER  WORKFLOW   ENABLED  EVENTS  QUIET AFTER  LAST EVENT            QUIET  CREATED\n\
             src_2  stripe  stripe    wf_bill    true     (all)   1h           2024-05-01 10:00:00Z  true   2024-05-01 09:00:00Z\n\
             src_1  gh      github    wf_deploy  true     (all)   -            -                     false  2024-05-01 12:00:00Z\n\
             (more: --cursor abc)\n"
        );
    }

    #[test]
    fn source_fields_show_the_quiet_threshold_the_last_event_and_whether_quiet() {
        let source = json!({"id": "src_1", "quiet_after_s": 5400,
                            "last_event_at": "2024-05-01T12:00:00Z", "quiet": false});
        let fields = source_fields(&source).to_string();
        for line in [
            "quiet after       90m\n",
            "last event        2024-05-01 12:00:00Z\n",
            "quiet             false\n",
        ] {
            assert!(fields.contains(line), "{line:?} in\n{fields}");
        }
    }

    #[test]
    fn verifier_options_show_everything_but_the_type() {
        assert_eq!(verifier_options(&json!({"type": "github"})), "-");
        assert_eq!(
            verifier_options(&json!({"type": "bearer", "header": "X-Token"})),
            r#"{"header":"X-Token"}"#
        );
    }
}
