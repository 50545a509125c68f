//! `hookgate orgs create|list|show` over `/v1/orgs` (SPEC §7).

use super::table::{cell, time, Table};
use super::{next_page, ApiArgs, Page};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// Create an org (operator token only).
    Create {
        /// 2–63 of a-z, 0-9 and '-'; the org's id in URLs and in `--org`.
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List every org, alphabetical (operator token only).
    List {
        #[command(flatten)]
        page: Page,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show an org.
    Show {
        slug: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: OrgsCommand) -> anyhow::Result<()> {
    match command {
        OrgsCommand::Create { slug, name, api } => {
            let body = json!({ "name": name.as_deref().unwrap_or(&slug), "slug": slug });
            let reply = api.client()?.post(&["v1", "orgs"], &body).await?;
            api.print(&reply, org_fields);
        }
        OrgsCommand::List { page, api } => {
            let reply = api.client()?.get(&["v1", "orgs"], &page.query()).await?;
            api.print(&reply, org_table);
        }
        OrgsCommand::Show { slug, api } => {
            let reply = api.client()?.get(&["v1", "orgs", &slug], &[]).await?;
            api.print(&reply, org_fields);
        }
    }
    Ok(())
}

fn org_fields(org: &Value) -> String {
    let mut table = Table::fields();
    table
        .row(["slug", &cell(&org["slug"])])
        .row(["name", &cell(&org["name"])])
        .row(["created", &time(&org["created_at"])]);
    table.to_string()
}

fn org_table(list: &Value) -> String {
    let mut table = Table::new(["SLUG", "NAME", "CREATED"]);
    for org in list["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&org["slug"]),
            cell(&org["name"]),
            time(&org["created_at"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}
