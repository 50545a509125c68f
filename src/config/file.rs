//! The optional TOML config file. Its values become the defaults of the matching
//! flags, so precedence stays flag > environment > file > built-in default and
//! `--help` shows the effective default.

use clap::Command;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config file {path}: unknown setting `{key}`")]
    UnknownKey { path: PathBuf, key: String },
    #[error("config file {path}: setting `{key}` must be a string, number, boolean or array")]
    BadValue { path: PathBuf, key: String },
}

/// The --config path from the arguments, else from HOOKGATE_CONFIG.
fn config_path(args: &[OsString], env_value: Option<OsString>) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    env_value.map(PathBuf::from)
}

fn value_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(value_text)
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(",")),
        _ => None,
    }
}

/// Applies the config file (if any) as defaults of the invoked subcommand's flags.
pub fn apply(
    command: Command,
    args: &[OsString],
    env_value: Option<OsString>,
) -> Result<Command, FileError> {
    let Some(path) = config_path(args, env_value) else {
        return Ok(command);
    };
    let Some(subcommand) = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| command.find_subcommand(a).is_some())
    else {
        return Ok(command);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| FileError::Read {
        path: path.clone(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| FileError::Parse {
            path: path.clone(),
            message: e.message().to_owned(),
        })?;
    let mut command = command;
    for (key, value) in table {
        let known = command
            .find_subcommand(&subcommand)
            .is_some_and(|sc| sc.get_arguments().any(|a| a.get_id() == key.as_str()));
        if !known || key == "config" {
            // `migrate` shares the file with `serve`; only serve rejects unknown keys.
            if subcommand == "serve" {
                return Err(FileError::UnknownKey { path, key });
            }
            continue;
        }
        let text = value_text(&value).ok_or_else(|| FileError::BadValue {
            path: path.clone(),
            key: key.clone(),
        })?;
        command = command.mut_subcommand(&subcommand, |sc| {
            sc.mut_arg(key.as_str(), |arg| arg.default_value(text))
        });
    }
    Ok(command)
}
