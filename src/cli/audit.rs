//! `hookgate audit` over `GET /v1/orgs/{org}/audit` (SPEC §7): who changed what in an
//! org, newest first.

use super::table::{cell, time, Table};
use super::{next_page, ApiArgs, Page};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[arg(long)]
    org: String,
    #[command(flatten)]
    page: Page,
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let reply = args
        .api
        .client()?
        .get(&["v1", "orgs", &args.org, "audit"], &args.page.query())
        .await?;
    args.api.print(&reply, audit_table);
    Ok(())
}

/// One row per entry. The actor is `operator` or `api_key:<id>`; the details are the
/// entry's JSON object as the API gave it (e.g. a key's scopes, a grace period).
fn audit_table(list: &Value) -> String {
    let mut table = Table::new(["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"]);
    for entry in list["data"].as_array().into_iter().flatten() {
        table.row([
            time(&entry["at"]),
            cell(&entry["actor"]),
            cell(&entry["action"]),
            cell(&entry["target"]),
            cell(&entry["details"]),
        ]);
    }
    format!("{table}{}", next_page(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_shows_who_did_what_to_which_resource() {
        let list = json!({"data": [
            {"id": "aud_2", "actor": "api_key:key_1", "action": "secret_rotated",
             "target": "src_1", "details": {"grace_period_s": 3600},
             "at": "2024-05-01T12:01:00.25Z"},
            {"id": "aud_1", "actor": "operator", "action": "org_created", "target": "acme",
             "details": {}, "at": "2024-05-01T12:00:00Z"}
        ], "next_cursor": "aud_1"});
        assert_eq!(
            audit_table(&list),
            "AT                    ACTOR          ACTION          TARGET  DETAILS\n\
             2024-05-01 12:01:00Z  api_key:key_1  secret_rotated  src_1   {\"grace_period_s\":3600}\n\
             2024-05-01 12:00:00Z  operator       org_created     acme    -\n\
             (more: --cursor aud_1)\n"
        );
    }
}
