//! `hookgate sources …` over `/v1/orgs/{org}/sources` and `/v1/sources/{id}` (SPEC §3.1,
//! §5, §7.1).

use super::secrets::{rotated, secret_table, Rotation};
use super::table::{cell, time, Table};
use super::verifier::{VerifierArgs, VerifierArgsError};
use super::{joined_json, next_page, ApiArgs, Page};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum SourcesCommand {
    /// Create a source; prints its id, ingress URL and secret (the secret only this once).
    Create(CreateArgs),
    /// List an org's sources.
    List {
        #[arg(long)]
        org: String,
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
    #[command(flatten)]
    api: ApiArgs,
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
        SourcesCommand::List { org, page, api } => {
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "sources"], &page.query())
                .await?;
            api.print(&reply, source_table);
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
        .row(["secret", &cell(&reply["secret"])]);
    format!("{table}(the secret is shown this once: give it to the sender now)\n")
}

fn source_table(list: &Value) -> String {
    let mut table = Table::new([
        "ID", "NAME", "VERIFIER", "WORKFLOW", "ENABLED", "EVENTS", "CREATED",
    ]);
    for source in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&source["id"]),
            cell(&source["name"]),
            cell(&source["verifier"]["type"]),
            cell(&source["workflow_id"]),
            cell(&source["enabled"]),
            events(&source["event_filter"]),
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
        .row(["ingress url", &cell(&source["ingress_url"])])
        .row(["created", &time(&source["created_at"])])
        .row(["updated", &time(&source["updated_at"])]);
    format!("{fields}\n{}", secret_table(secrets))
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
            ]),
            json!({"name": "gh", "workflow_id": "wf",
                   "verifier": {"type": "bearer", "header": "X-Token"}, "secret": "s3",
                   "event_filter": ["push", "pull_request"], "max_body_bytes": 2048})
        );
    }

    #[test]
    fn source_list_shows_one_row_per_source_with_verifier_type_and_all_events() {
        let list = json!({"data": [{
            "id": "src_1", "name": "gh", "verifier": {"type": "github"},
            "workflow_id": "wf_deploy", "enabled": true, "event_filter": [],
            "created_at": "2024-05-01T12:00:00.5Z"
        }], "next_cursor": "abc"});
        assert_eq!(
            source_table(&list),
            "ID     NAME  VERIFIER  WORKFLOW   ENABLED  EVENTS  CREATED\n\
             src_1  gh    github    wf_deploy  true     (all)   2024-05-01 12:00:00Z\n\
             (more: --cursor abc)\n"
        );
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
