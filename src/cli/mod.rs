//! The `hookgate` command line: `serve`, `migrate`, `rekey` (`rekey.rs`: re-seal the
//! secrets after a master-key rotation, against the store), and the operator CLI of SPEC §9
//! (`orgs`, `keys`, `sources`, `endpoints`, `deliveries`, `events`, `runs`, `audit`: a
//! thin client over the REST API; `sign`: signed test requests). One file per command group; HTTP calls
//! only in `client.rs`, formatting only in `table.rs`. `sse.rs` parses Server-Sent Events
//! (pure) and `follow.rs` reads a run's event stream to the run's end, reconnecting where
//! it stopped. `anyhow` is allowed here, as in `main.rs`.

mod audit;
mod client;
mod deliveries;
mod endpoints;
mod events;
mod follow;
mod keys;
mod orgs;
pub mod rekey;
mod runs;
mod secrets;
mod sign;
mod since;
mod sources;
mod sse;
mod table;
mod verifier;

pub use audit::AuditArgs;
pub use deliveries::DeliveriesCommand;
pub use endpoints::EndpointsCommand;
pub use events::EventsCommand;
pub use keys::KeysCommand;
pub use orgs::OrgsCommand;
pub use runs::RunsCommand;
pub use sign::SignArgs;
pub use sources::SourcesCommand;

use crate::config::{file, MigrateArgs, RekeyArgs, ServeArgs};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use client::{Client, ClientError, Connection, Reply};
use serde_json::value::RawValue;
use std::ffi::OsString;

#[derive(Parser, Debug)]
#[command(
    name = "hookgate",
    version = env!("HOOKGATE_VERSION"),
    about = "Webhook ingress and signed delivery gateway",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The environment every command reads, shown under `hookgate --help`.
const AFTER_HELP: &str = "\
Operator commands (orgs … audit) call a running hookgate at HOOKGATE_URL (default \
http://127.0.0.1:8080) with HOOKGATE_TOKEN (the operator token or an API key), or \
--url and --token.

serve and migrate log to stderr. HOOKGATE_LOG chooses what is logged, as a filter of \
levels per module: `info` (the default), `warn`, `info,hookgate=debug`. \
`hookgate serve --help` lists every setting of the server.";

/// Under `hookgate serve --help`: the one setting `ServeArgs` does not declare,
/// because logging starts before the configuration is read.
const SERVE_AFTER_HELP: &str = "\
Logging: HOOKGATE_LOG chooses what is logged, as a filter of levels per module, e.g. \
`info` (the default), `warn`, `info,hookgate=debug` (one access line per request is \
logged at info).";

// Parsed once per process; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway: ingress, REST API, outbox relay and delivery workers.
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate(MigrateArgs),
    /// Re-seal every secret under the current master key after a rotation (secrets
    /// under a retired key are re-sealed in batches while instances keep serving; run
    /// again after an interruption), then print the counts per old key.
    Rekey(RekeyArgs),
    /// Print a shell completion script, e.g. `hookgate completions bash >
    /// /etc/bash_completion.d/hookgate`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    #[command(flatten)]
    Operator(Operator),
}

/// The operator CLI: talks to a running hookgate at `--url` / `HOOKGATE_URL`.
#[derive(Subcommand, Debug)]
pub enum Operator {
    /// Organisations: create (operator token) and show.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// API keys: mint, list and revoke (operator token).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inbound sources: create, update, list, show, the webhooks received, rotate and
    /// expire secrets, rejections.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Execution-hook endpoints: create, list, show, secrets, test, enable/disable, recover.
    #[command(subcommand)]
    Endpoints(EndpointsCommand),
    /// Deliveries to endpoints and their attempts: list, show, retry one or many.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Received webhooks (list, show with their lineage, replay) and run events
    /// (publish one, to be delivered to the org's matching endpoints).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Workflow runs started by webhooks and the trigger API: list, show, their events
    /// (listed or followed live), cancel.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// An org's audit log, newest first: who changed keys, sources, endpoints, secrets.
    Audit(AuditArgs),
    /// Print the headers (or a curl command) a real sender would send for a body.
    Sign(SignArgs),
}

/// Connection and output flags of every operator subcommand that calls the API.
#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    #[command(flatten)]
    connection: Connection,
    /// Print the API's JSON response as received, for scripts.
    #[arg(long)]
    json: bool,
}

impl ApiArgs {
    fn client(&self) -> Result<Client, ClientError> {
        Client::new(&self.connection)
    }

    /// Prints `reply`: its JSON text with `--json`, else what `human` makes of it.
    fn print(&self, reply: &Reply, human: impl FnOnce(&serde_json::Value) -> String) {
        if self.json {
            if !reply.text.is_empty() {
                println!("{}", reply.text);
            }
        } else {
            print!("{}", human(&reply.value));
        }
    }
}

/// `--limit` and `--cursor` of a list command.
#[derive(Args, Debug, Clone)]
pub struct Page {
    /// Page size, 1–200 (the API's default: 50).
    #[arg(long)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[arg(long)]
    cursor: Option<String>,
}

impl Page {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            query.push(("cursor", cursor.clone()));
        }
        query
    }
}

/// The API's spelling of a `--status`-like value: clap's, the variant in kebab case.
fn wire(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// The hint under a table when the list has more pages.
fn next_page(list: &serde_json::Value) -> String {
    match list["next_cursor"].as_str() {
        Some(cursor) => format!("(more: --cursor {cursor})\n"),
        None => String::new(),
    }
}

/// Several responses, each as received, as one JSON object under the given names (in
/// order): what `show` prints with `--json` when it makes more than one call.
fn joined_json(parts: &[(&str, &str)]) -> serde_json::Result<String> {
    struct Joined<'a>(Vec<(&'a str, &'a RawValue)>);
    impl serde::Serialize for Joined<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().copied())
        }
    }
    let parts = parts
        .iter()
        .map(|(name, text)| Ok((*name, serde_json::from_str::<&RawValue>(text)?)))
        .collect::<serde_json::Result<_>>()?;
    serde_json::to_string(&Joined(parts))
}

/// The completion script for `shell`, of every command and flag. Built in memory:
/// clap_complete panics on a failed write, and a closed pipe (`| head`) is not a panic.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hookgate", &mut script);
    script
}

/// Parses arguments with the config file applied as defaults. Exits with clap's
/// message on bad flags or --help, like any CLI.
pub fn parse(args: Vec<OsString>) -> Result<Cli, file::FileError> {
    let command = file::apply(Cli::command(), &args, std::env::var_os("HOOKGATE_CONFIG"))?;
    let matches = command.get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// Runs one operator command. Errors carry the API's code, message and request id, or
/// name the URL that could not be reached.
pub async fn run(command: Operator) -> anyhow::Result<()> {
    match command {
        Operator::Orgs(command) => orgs::run(command).await,
        Operator::Keys(command) => keys::run(command).await,
        Operator::Sources(command) => sources::run(command).await,
        Operator::Endpoints(command) => endpoints::run(command).await,
        Operator::Deliveries(command) => deliveries::run(command).await,
        Operator::Events(command) => events::run(command).await,
        Operator::Runs(command) => runs::run(command).await,
        Operator::Audit(args) => audit::run(args).await,
        Operator::Sign(args) => sign::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_operator_subcommand_takes_url_token_and_json() {
        let cli = Cli::command();
        let groups = [
            "orgs",
            "keys",
            "sources",
            "endpoints",
            "deliveries",
            "events",
            "runs",
        ];
        let leaves = groups
            .iter()
            .flat_map(|group| {
                let group = cli.find_subcommand(group).unwrap();
                group.get_subcommands().map(|leaf| (group.get_name(), leaf))
            })
            .chain([("", cli.find_subcommand("audit").unwrap())]);
        for (group, leaf) in leaves {
            for flag in ["url", "token", "json"] {
                assert!(
                    leaf.get_arguments().any(|a| a.get_id() == flag),
                    "{group} {} lacks --{flag}",
                    leaf.get_name()
                );
            }
        }
    }

    #[test]
    fn help_never_cites_the_spec_which_users_do_not_have() {
        fn check(command: &mut clap::Command, path: &str) {
            let path = format!("{path} {}", command.get_name())
                .trim_start()
                .to_owned();
            let help = command.render_long_help().to_string();
            assert!(
                !help.contains("SPEC"),
                "`{path} --help` cites the spec:\n{help}"
            );
            for sub in command.get_subcommands_mut() {
                check(sub, &path);
            }
        }
        let mut cli = Cli::command();
        cli.build();
        check(&mut cli, "");
    }

    #[test]
    fn joined_json_keeps_each_response_as_received_in_order() {
        let text = joined_json(&[
            ("source", r#"{"z":1,"a":2}"#),
            ("secrets", r#"{"data":[]}"#),
        ]);
        assert_eq!(
            text.unwrap(),
            r#"{"source":{"z":1,"a":2},"secrets":{"data":[]}}"#
        );
        assert!(joined_json(&[("x", "not json")]).is_err());
    }
}
