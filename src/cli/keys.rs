//! `hookgate keys mint|list|revoke` over `/v1/orgs/{org}/api-keys` and
//! `/v1/api-keys/{id}` (SPEC §7; operator token only).

use super::table::{cell, time, Table};
use super::{next_page, ApiArgs, Page};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Mint an API key; the key is printed this once.
    Mint {
        #[arg(long)]
        org: String,
        /// What the key is for, e.g. `ci`.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. `run:trigger,run:read` (default: every scope).
        #[arg(long, value_delimiter = ',', value_name = "SCOPES")]
        scopes: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List an org's API keys (metadata only).
    List {
        #[arg(long)]
        org: String,
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Revoke an API key at once.
    Revoke {
        key_id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Mint {
            org,
            name,
            scopes,
            api,
        } => {
            let body = json!({ "name": name, "scopes": scopes });
            let reply = api
                .client()?
                .post(&["v1", "orgs", &org, "api-keys"], &body)
                .await?;
            api.print(&reply, minted);
        }
        KeysCommand::List { org, page, api } => {
            let reply = api
                .client()?
                .get(&["v1", "orgs", &org, "api-keys"], &page.query())
                .await?;
            api.print(&reply, key_table);
        }
        KeysCommand::Revoke { key_id, api } => {
            let reply = api.client()?.delete(&["v1", "api-keys", &key_id]).await?;
            api.print(&reply, |_| format!("revoked {key_id}\n"));
        }
    }
    Ok(())
}

fn scopes(key: &Value) -> String {
    match cell(&key["scopes"]).as_str() {
        "-" => "(all)".to_owned(),
        scopes => scopes.to_owned(),
    }
}

fn minted(key: &Value) -> String {
    let mut table = Table::fields();
    table
        .row(["id", &cell(&key["id"])])
        .row(["name", &cell(&key["name"])])
        .row(["scopes", &scopes(key)])
        .row(["key", &cell(&key["key"])]);
    format!("{table}(the key is shown this once: store it now)\n")
}

fn key_table(list: &Value) -> String {
    let mut table = Table::new(["ID", "NAME", "SCOPES", "CREATED", "REVOKED"]);
    for key in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&key["id"]),
            cell(&key["name"]),
            scopes(key),
            time(&key["created_at"]),
            time(&key["revoked_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}
