//! `hookgate endpoints …` over `/v1/orgs/{org}/endpoints` and `/v1/endpoints/{id}`
//! (SPEC §5, §6, §7.1).

use super::secrets::{rotated, secret_table, Rotation};
use super::since::{rfc3339, Since};
use super::table::{cell, count, time, Table};
use super::{joined_json, next_page, ApiArgs, Page};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum EndpointsCommand {
    /// Create an endpoint; prints its id, URL and `whsec_` secret (the secret only this
    /// once).
    Create(CreateArgs),
    /// List an org's endpoints.
    List {
        #[arg(long)]
        org: String,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show an endpoint and its secrets' metadata. With --json:
    /// {"endpoint": <GET /v1/endpoints/{id}>, "secrets": <GET /v1/endpoints/{id}/secrets>}.
    Show {
        endpoint_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make a new current secret; until the grace period ends every delivery is signed
    /// with the previous secrets too.
    RotateSecret {
        endpoint_id: String,
        #[command(flatten)]
        rotation: Rotation,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Expire one secret now (e.g. after a compromise, or once the receiver has switched).
    ExpireSecret {
        endpoint_id: String,
        secret_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a signed `endpoint.test` event to this endpoint only.
    Test {
        endpoint_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Enable an endpoint (also one hookgate disabled); its pending deliveries resume.
    Enable {
        endpoint_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Disable an endpoint: new events skip it, pending deliveries wait.
    Disable {
        endpoint_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Retry the endpoint's failed deliveries created since a time, e.g. after an outage.
    Recover {
        endpoint_id: String,
        /// An RFC 3339 time, or a duration ago: `2h` means two hours before now.
        #[arg(long, value_parser = Since::parse, value_name = "TIME|DURATION")]
        since: Since,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    org: String,
    /// Where deliveries are POSTed (http or https). Not `--url`: that is hookgate's own
    /// API, as in every operator command.
    #[arg(long, value_name = "URL")]
    endpoint_url: String,
    /// What the endpoint is, for people reading lists (e.g. `billing service`).
    #[arg(long)]
    description: Option<String>,
    /// Comma-separated event types delivered, e.g. `run.completed,run.failed`
    /// (default: all).
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    event_types: Vec<String>,
    /// Comma-separated workflows whose events are delivered (default: all).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    workflow_ids: Vec<String>,
    /// Per-attempt timeout in milliseconds, 1000–60000 (the API's default: 15000).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u32>,
    /// Most attempts per second to this endpoint (default: no limit).
    #[arg(long, value_name = "PER_SECOND")]
    rate_limit: Option<u32>,
    /// Delays before each attempt, e.g. `0s,5s,5m` (default: the server's schedule).
    #[arg(long, value_name = "DELAYS")]
    retry_schedule: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

impl CreateArgs {
    /// The request body of SPEC §7.1; options not given are left to the API's defaults.
    fn body(&self) -> Value {
        let mut body = json!({ "url": self.endpoint_url });
        if let Some(description) = &self.description {
            body["description"] = json!(description);
        }
        if !self.event_types.is_empty() {
            body["event_types"] = json!(self.event_types);
        }
        if !self.workflow_ids.is_empty() {
            body["workflow_ids"] = json!(self.workflow_ids);
        }
        if let Some(timeout) = self.timeout_ms {
            body["timeout_ms"] = json!(timeout);
        }
        if let Some(rate) = self.rate_limit {
            body["rate_limit_per_s"] = json!(rate);
        }
        if let Some(schedule) = &self.retry_schedule {
            body["retry_schedule"] = json!(schedule);
        }
        body
    }
}

pub async fn run(command: EndpointsCommand) -> anyhow::Result<()> {
    match command {
        EndpointsCommand::Create(args) => {
            let reply = args
                .api
                .client()?
                .post(&["v1", "orgs", &args.org, "endpoints"], &args.body())
                .await?;
            args.api.print(&reply, created);
        }
        EndpointsCommand::List { org, page, api } => {
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "endpoints"], &page.query())
                .await?;
            api.print(&reply, endpoint_table);
        }
        EndpointsCommand::Show { endpoint_id, api } => {
            let client = api.client()?;
            let endpoint = client.get(&["v1", "endpoints", &endpoint_id], &[]).await?;
            let secrets = client
                .get(&["v1", "endpoints", &endpoint_id, "secrets"], &[])
                .await?;
            if api.json {
                let parts = [("endpoint", &*endpoint.text), ("secrets", &*secrets.text)];
                println!("{}", joined_json(&parts)?);
            } else {
                print!("{}", shown(&endpoint.value, &secrets.value));
            }
        }
        EndpointsCommand::RotateSecret {
            endpoint_id,
            rotation,
            api,
        } => {
            let path = ["v1", "endpoints", &endpoint_id, "secrets", "rotate"];
            let reply = api.client()?.post(&path, &rotation.body()).await?;
            api.print(&reply, |reply| rotated(reply, "receiver"));
        }
        EndpointsCommand::ExpireSecret {
            endpoint_id,
            secret_id,
            api,
        } => {
            let reply = api
                .client()?
                .delete(&["v1", "endpoints", &endpoint_id, "secrets", &secret_id])
                .await?;
            api.print(&reply, |_| {
                format!("expired {secret_id} of {endpoint_id}: deliveries are no longer signed with it\n")
            });
        }
        EndpointsCommand::Test { endpoint_id, api } => {
            let reply = api
                .client()?
                .post(&["v1", "endpoints", &endpoint_id, "test"], &json!({}))
                .await?;
            api.print(&reply, tested);
        }
        EndpointsCommand::Enable { endpoint_id, api } => {
            set_enabled(&endpoint_id, true, &api).await?;
        }
        EndpointsCommand::Disable { endpoint_id, api } => {
            set_enabled(&endpoint_id, false, &api).await?;
        }
        EndpointsCommand::Recover {
            endpoint_id,
            since,
            api,
        } => {
            let since = rfc3339(since.resolve(chrono::Utc::now()));
            let reply = api
                .client()?
                .post(
                    &["v1", "endpoints", &endpoint_id, "recover"],
                    &json!({ "since": since }),
                )
                .await?;
            api.print(&reply, |reply| {
                format!(
                    "queued {} of {endpoint_id} created since {} for another attempt\n",
                    count(&reply["deliveries"], "failed delivery", "failed deliveries"),
                    time(&json!(since)),
                )
            });
        }
    }
    Ok(())
}

async fn set_enabled(endpoint_id: &str, enabled: bool, api: &ApiArgs) -> anyhow::Result<()> {
    let reply = api
        .client()?
        .patch(
            &["v1", "endpoints", endpoint_id],
            &json!({ "enabled": enabled }),
        )
        .await?;
    api.print(&reply, |endpoint| {
        let id = cell(&endpoint["id"]);
        if enabled {
            format!("enabled {id}: its pending deliveries resume\n")
        } else {
            format!("disabled {id}: new events skip it and pending deliveries wait until `hookgate endpoints enable {id}`\n")
        }
    });
    Ok(())
}

fn created(reply: &Value) -> String {
    let mut table = Table::fields();
    table
        .row(["endpoint", &cell(&reply["endpoint"]["id"])])
        .row(["url", &cell(&reply["endpoint"]["url"])])
        .row(["secret", &cell(&reply["secret"])]);
    format!("{table}(the secret is shown this once: give it to the receiver now)\n")
}

/// `true`, or `false` with the reason when hookgate disabled it (`gone`, `failing`).
fn enabled(endpoint: &Value) -> String {
    match (&endpoint["enabled"], endpoint["disabled_reason"].as_str()) {
        (Value::Bool(false), Some(reason)) => format!("false ({reason})"),
        (enabled, _) => cell(enabled),
    }
}

/// A filter list: empty means every one.
fn all_if_empty(list: &Value) -> String {
    match cell(list).as_str() {
        "-" => "(all)".to_owned(),
        names => names.to_owned(),
    }
}

fn endpoint_table(list: &Value) -> String {
    let mut table = Table::new([
        "ID",
        "URL",
        "ENABLED",
        "EVENT TYPES",
        "WORKFLOWS",
        "CREATED",
    ]);
    for endpoint in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&endpoint["id"]),
            cell(&endpoint["url"]),
            enabled(endpoint),
            all_if_empty(&endpoint["event_types"]),
            all_if_empty(&endpoint["workflow_ids"]),
            time(&endpoint["created_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}

fn shown(endpoint: &Value, secrets: &Value) -> String {
    let schedule = match cell(&endpoint["retry_schedule"]).as_str() {
        "-" => "(server default)".to_owned(),
        schedule => schedule.to_owned(),
    };
    let mut fields = Table::fields();
    fields
        .row(["id", &cell(&endpoint["id"])])
        .row(["url", &cell(&endpoint["url"])])
        .row(["description", &cell(&endpoint["description"])])
        .row(["enabled", &enabled(endpoint)])
        .row(["event types", &all_if_empty(&endpoint["event_types"])])
        .row(["workflows", &all_if_empty(&endpoint["workflow_ids"])])
        .row(["timeout ms", &cell(&endpoint["timeout_ms"])])
        .row(["rate limit/s", &cell(&endpoint["rate_limit_per_s"])])
        .row(["retry schedule", &schedule])
        .row(["failing since", &time(&endpoint["failing_since"])])
        .row(["created", &time(&endpoint["created_at"])])
        .row(["updated", &time(&endpoint["updated_at"])]);
    format!("{fields}\n{}", secret_table(secrets))
}

fn tested(reply: &Value) -> String {
    let mut fields = Table::fields();
    fields
        .row(["event", &cell(&reply["event_id"])])
        .row(["deliveries", &cell(&reply["deliveries"])]);
    let note = if reply["deliveries"] == 0 {
        "(nothing was queued: the endpoint is disabled)\n"
    } else {
        ""
    };
    format!("{fields}{note}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> EndpointsCommand {
        let argv = ["hookgate", "endpoints"].iter().chain(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Operator(crate::cli::Operator::Endpoints(command)) => command,
            other => panic!("{other:?}"),
        }
    }

    fn create_body(args: &[&str]) -> Value {
        let argv = [
            "create",
            "--org",
            "acme",
            "--endpoint-url",
            "https://b.example/h",
        ];
        match parse(&[&argv[..], args].concat()) {
            EndpointsCommand::Create(create) => create.body(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_body_holds_what_was_given_and_leaves_the_rest_to_the_api() {
        assert_eq!(create_body(&[]), json!({"url": "https://b.example/h"}));
        assert_eq!(
            create_body(&[
                "--description",
                "billing",
                "--event-types",
                "run.completed,run.failed",
                "--workflow-ids",
                "wf_a",
                "--timeout-ms",
                "5000",
                "--rate-limit",
                "20",
                "--retry-schedule",
                "0s,5s,5m",
            ]),
            json!({"url": "https://b.example/h", "description": "billing",
                   "event_types": ["run.completed", "run.failed"], "workflow_ids": ["wf_a"],
                   "timeout_ms": 5000, "rate_limit_per_s": 20, "retry_schedule": "0s,5s,5m"})
        );
    }

    #[test]
    fn recover_since_is_checked_before_any_request() {
        let argv = [
            "hookgate",
            "endpoints",
            "recover",
            "ep_1",
            "--since",
            "7200",
        ];
        assert!(crate::cli::Cli::try_parse_from(argv).is_err());
        match parse(&["recover", "ep_1", "--since", "2h"]) {
            EndpointsCommand::Recover { since, .. } => {
                assert_eq!(since, Since::Ago(std::time::Duration::from_secs(7200)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn endpoint_list_shows_why_hookgate_disabled_an_endpoint_and_all_for_empty_filters() {
        let list = json!({"data": [
            {"id": "ep_1", "url": "https://a.example/h", "enabled": true, "disabled_reason": null,
             "event_types": [], "workflow_ids": [], "created_at": "2024-05-01T12:00:00Z"},
            {"id": "ep_2", "url": "https://b.example/h", "enabled": false, "disabled_reason": "gone",
             "event_types": ["run.failed"], "workflow_ids": ["wf_a", "wf_b"],
             "created_at": "2024-05-01T12:00:01Z"}
        ], "next_cursor": null});
        assert_eq!(
            endpoint_table(&list),
            "ID    URL                  ENABLED       EVENT TYPES  WORKFLOWS  CREATED\n\
             ep_1  https://a.example/h  true          (all)        (all)      2024-05-01 12:00:00Z\n\
             ep_2  https://b.example/h  false (gone)  run.failed   wf_a,wf_b  2024-05-01 12:00:01Z\n"
        );
    }

    #[test]
    fn disabled_by_hand_shows_plain_false() {
        assert_eq!(enabled(&json!({"enabled": false})), "false");
        assert_eq!(
            enabled(&json!({"enabled": false, "disabled_reason": "failing"})),
            "false (failing)"
        );
    }

    #[test]
    fn test_event_to_a_disabled_endpoint_says_nothing_was_queued() {
        assert_eq!(
            tested(&json!({"event_id": "evt_1", "deliveries": 1})),
            "event       evt_1\ndeliveries  1\n"
        );
        assert!(tested(&json!({"event_id": "evt_1", "deliveries": 0})).contains("disabled"));
    }
}
