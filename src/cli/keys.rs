//! `hookgate keys mint|list|revoke` over `/v1/orgs/{org}/api-keys` and
//! `/v1/api-keys/{id}` (SPEC §7; operator token only).

use super::table::{cell, time, Table};
use super::{next_page, ApiArgs, Page};
use crate::auth::Scope;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
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
        /// What the key may do, comma-separated, e.g. `run:trigger,run:read`. Without
        /// --scopes the key has every scope, including ones added later.
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "SCOPES",
            value_parser = scope_parser()
        )]
        scopes: Vec<Scope>,
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

/// Each of `--scopes` is one of the scopes the API knows, so `--help` and shell
/// completion list them and a misspelt one is refused before any request.
fn scope_parser() -> impl TypedValueParser<Value = Scope> {
    PossibleValuesParser::new(Scope::ALL.map(|scope| PossibleValue::new(scope.as_str())))
        .try_map(|name| name.parse::<Scope>())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn minted_scopes(args: &[&str]) -> Result<Vec<Scope>, clap::Error> {
        let argv = ["hookgate", "keys", "mint", "--org", "acme", "--name", "ci"];
        let cli = crate::cli::Cli::try_parse_from(argv.iter().chain(args))?;
        match cli.command {
            crate::cli::Command::Operator(crate::cli::Operator::Keys(KeysCommand::Mint {
                scopes,
                ..
            })) => Ok(scopes),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scopes_are_parsed_from_a_comma_separated_list_and_sent_as_the_api_spells_them() {
        let scopes = minted_scopes(&["--scopes", "run:trigger,audit:read"]).unwrap();
        assert_eq!(scopes, [Scope::RunTrigger, Scope::AuditRead]);
        assert_eq!(
            json!({ "scopes": scopes }),
            json!({"scopes": ["run:trigger", "audit:read"]})
        );
        assert_eq!(minted_scopes(&[]).unwrap(), []);
    }

    #[test]
    fn unknown_scope_is_refused_before_any_request() {
        let error = minted_scopes(&["--scopes", "run:read,run:everything"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn mint_help_lists_every_scope() {
        let mut cli = crate::cli::Cli::command();
        let help = cli
            .find_subcommand_mut("keys")
            .and_then(|keys| keys.find_subcommand_mut("mint"))
            .unwrap()
            .render_long_help()
            .to_string();
        for scope in Scope::ALL {
            assert!(
                help.contains(scope.as_str()),
                "{scope} missing from:\n{help}"
            );
        }
    }
}
