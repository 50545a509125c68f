//! Embedded mode's first start: generate the operator token and master key into the
//! data dir (mode 0600) unless they are configured, so `hookgate serve` works on a
//! bare machine and keeps working across restarts.

use crate::crypto::{random_token, MasterKey, Secret};
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const TOKEN_FILE: &str = "operator-token";
const MASTER_KEY_FILE: &str = "master-key";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("cannot use data dir {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} does not hold a valid master key: {reason}")]
    BadMasterKey { path: PathBuf, reason: String },
}

/// Credentials resolved for this start.
pub struct Credentials {
    pub operator_token: Secret,
    pub master_key: Secret,
    /// Set when the token was generated now: the one time it is shown.
    pub new_operator_token: bool,
    pub token_path: Option<PathBuf>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    }
}

pub fn ensure_data_dir(dir: &Path) -> Result<(), BootstrapError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))
}

/// Reads `name` from `dir`, or creates it (0600, never overwriting) with `generate()`.
/// Returns the value and whether it was created now.
fn read_or_create(
    dir: &Path,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<(String, bool), BootstrapError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(existing) => return Ok((existing.trim().to_owned(), false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&path)(e)),
    }
    let value = generate();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_error(&path))?;
    file.write_all(format!("{value}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&path))?;
    Ok((value, true))
}

/// Configured values win; otherwise the data dir's files, created on first start.
pub fn embedded_credentials(
    data_dir: &Path,
    operator_token: Option<&Secret>,
    master_key: Option<&Secret>,
) -> Result<Credentials, BootstrapError> {
    ensure_data_dir(data_dir)?;
    let (token, new_operator_token, token_path) = match operator_token {
        Some(token) => (token.clone(), false, None),
        None => {
            let (value, created) = read_or_create(data_dir, TOKEN_FILE, || {
                random_token("hgop_")
                    .expose_str()
                    .unwrap_or_default()
                    .to_owned()
            })?;
            (Secret::new(value), created, Some(data_dir.join(TOKEN_FILE)))
        }
    };
    let master_key = match master_key {
        Some(key) => key.clone(),
        None => {
            let (value, _) = read_or_create(data_dir, MASTER_KEY_FILE, MasterKey::generate_base64)?;
            MasterKey::from_base64(&value).map_err(|e| BootstrapError::BadMasterKey {
                path: data_dir.join(MASTER_KEY_FILE),
                reason: e.to_string(),
            })?;
            Secret::new(value)
        }
    };
    Ok(Credentials {
        operator_token: token,
        master_key,
        new_operator_token,
        token_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_start_generates_private_files_and_later_starts_reuse_them() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = embedded_credentials(&data, None, None).unwrap();
        assert!(first.new_operator_token);
        for file in [TOKEN_FILE, MASTER_KEY_FILE] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let second = embedded_credentials(&data, None, None).unwrap();
        assert!(!second.new_operator_token);
        assert_eq!(first.operator_token, second.operator_token);
        assert_eq!(first.master_key, second.master_key);
    }

    #[test]
    fn configured_credentials_win_over_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = Secret::new("configured-token-123");
        let creds = embedded_credentials(dir.path(), Some(&token), None).unwrap();
        assert_eq!(creds.operator_token, token);
        assert!(!creds.new_operator_token);
        assert!(!dir.path().join(TOKEN_FILE).exists());
    }
}
