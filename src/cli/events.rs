//! `hookgate events publish` over `POST /v1/orgs/{org}/events` (SPEC §6, §7.1): a run
//! event by hand, fanned out to the org's matching endpoints like one from the broker.

use super::table::{cell, Table};
use super::ApiArgs;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Publish a run event; prints its id and how many deliveries it made.
    Publish(PublishArgs),
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
    use clap::Parser;

    fn body(args: &[&str]) -> Result<Value, clap::Error> {
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
            body(&["--type", "run.completed"]).unwrap(),
            json!({"type": "run.completed"})
        );
        assert_eq!(
            body(&[
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
            assert!(body(&["--type", "t", "--data", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn replayed_event_id_is_called_a_duplicate() {
        let fresh = published(&json!({"event_id": "evt_1", "deliveries": 2, "duplicate": false}));
        assert_eq!(fresh, "event       evt_1\ndeliveries  2\n");
        let replay = published(&json!({"event_id": "evt_1", "deliveries": 0, "duplicate": true}));
        assert!(replay.contains("duplicate"), "{replay}");
    }
}
