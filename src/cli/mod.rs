//! The `hookgate` command line: `serve`, `migrate` (and, later, the operator CLI).

use crate::config::{file, MigrateArgs, ServeArgs};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

#[derive(Parser, Debug)]
#[command(
    name = "hookgate",
    version,
    about = "Webhook ingress and signed delivery gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway: ingress, REST API, outbox relay and delivery workers.
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate(MigrateArgs),
}

/// Parses arguments with the config file applied as defaults. Exits with clap's
/// message on bad flags or --help, like any CLI.
pub fn parse(args: Vec<OsString>) -> Result<Cli, file::FileError> {
    let command = file::apply(Cli::command(), &args, std::env::var_os("HOOKGATE_CONFIG"))?;
    let matches = command.get_matches_from(args);
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}
