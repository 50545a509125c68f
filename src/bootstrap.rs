//! Embedded mode's data dir: an exclusive lock held by the one process using it, the
//! directory kept 0700 and every file in it 0600, and on first start the operator token
//! and master key generated into it unless they are configured, so `hookgate serve`
//! works on a bare machine and keeps working across restarts. Retired master keys
//! (SPEC §15) are read from its `master-keys-retired` file when it exists and none are
//! configured; it is never created: an operator rotating the key writes it.

use crate::crypto::{parse_key_list, random_token, MasterKey, Secret};
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const TOKEN_FILE: &str = "operator-token";
const MASTER_KEY_FILE: &str = "master-key";
/// Former master keys, one per line (or comma-separated): they open, never seal.
pub const RETIRED_KEYS_FILE: &str = "master-keys-retired";
const LOCK_FILE: &str = "lock";
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

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
    #[error("no master key: HOOKGATE_MASTER_KEY is unset and {path} does not exist")]
    NoMasterKey { path: PathBuf },
    #[error("data dir {path} is in use by another hookgate{}", holder_suffix(*.holder))]
    InUse {
        path: PathBuf,
        /// The holder's PID as it wrote it into the lock file; absent when the file
        /// could not be read or the holder has not written it yet.
        holder: Option<u32>,
    },
}

fn holder_suffix(holder: Option<u32>) -> String {
    holder
        .map(|pid| format!(" (pid {pid})"))
        .unwrap_or_default()
}

/// Exclusive use of an embedded data dir, for as long as this value lives.
///
/// An advisory lock (`flock`) on `<data dir>/lock`: the kernel releases it when the
/// file is closed, including when the process dies, so a crash never leaves the dir
/// locked. The file keeps its last holder's PID (only to name it in the error another
/// instance reports) and is never deleted: deleting it would let two processes lock
/// two different files under the same name.
#[derive(Debug)]
pub struct DataDirLock {
    dir: PathBuf,
    _file: File,
}

impl DataDirLock {
    /// Creates the dir if needed, takes its lock (failing at once with
    /// [`BootstrapError::InUse`] if another process holds it), then sets the dir to 0700
    /// and every regular file in it to 0600, whatever they were before.
    pub fn acquire(dir: &Path) -> Result<Self, BootstrapError> {
        ensure_data_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: until the lock is ours, the PID in it is the holder's.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(BootstrapError::InUse {
                    path: dir.to_owned(),
                    holder: read_pid(&mut file),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&path)(e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(io_error(&path))?;
        restrict_permissions(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            _file: file,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The PID a holder wrote into the lock file, if it can be read.
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Sets the dir to 0700 and each regular file directly in it to 0600. Symlinks are
/// left alone: changing one would change its target, which may lie outside the dir.
fn restrict_permissions(dir: &Path) -> Result<(), BootstrapError> {
    set_mode(dir, DIR_MODE)?;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_error(&path))?.is_file() {
            set_mode(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

/// Changes the mode only when it differs, so a file already right is never written to.
fn set_mode(path: &Path, mode: u32) -> Result<(), BootstrapError> {
    let current = std::fs::metadata(path).map_err(io_error(path))?;
    if current.permissions().mode() & 0o7777 == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(mode)).map_err(io_error(path))
}

/// Credentials resolved for this start.
pub struct Credentials {
    pub operator_token: Secret,
    pub master_key: Secret,
    /// Configured, else the data dir's `master-keys-retired` file, else none.
    pub master_keys_retired: Vec<Secret>,
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

/// Creates the dir (and missing parents) 0700 if it does not exist yet.
pub fn ensure_data_dir(dir: &Path) -> Result<(), BootstrapError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
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
        .mode(FILE_MODE)
        .open(&path)
        .map_err(io_error(&path))?;
    file.write_all(format!("{value}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&path))?;
    Ok((value, true))
}

/// Configured values win; otherwise the data dir's files, created on first start.
/// Taking the lock means two instances starting together cannot both generate them.
pub fn embedded_credentials(
    lock: &DataDirLock,
    operator_token: Option<&Secret>,
    master_key: Option<&Secret>,
    master_keys_retired: &[Secret],
) -> Result<Credentials, BootstrapError> {
    let data_dir = lock.dir();
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
    let master_keys_retired = if master_keys_retired.is_empty() {
        read_retired_keys(data_dir)?
    } else {
        master_keys_retired.to_vec()
    };
    Ok(Credentials {
        operator_token: token,
        master_key,
        master_keys_retired,
        new_operator_token,
        token_path,
    })
}

/// The master keys of an existing data dir, configured ones first, for a command that
/// must not create them (`hookgate rekey`): a missing key file is an error.
pub fn embedded_keys(
    lock: &DataDirLock,
    master_key: Option<&Secret>,
    master_keys_retired: &[Secret],
) -> Result<(Secret, Vec<Secret>), BootstrapError> {
    let data_dir = lock.dir();
    let master_key = match master_key {
        Some(key) => key.clone(),
        None => {
            let path = data_dir.join(MASTER_KEY_FILE);
            let value = match std::fs::read_to_string(&path) {
                Ok(value) => value.trim().to_owned(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(BootstrapError::NoMasterKey { path })
                }
                Err(e) => return Err(io_error(&path)(e)),
            };
            MasterKey::from_base64(&value).map_err(|e| BootstrapError::BadMasterKey {
                path,
                reason: e.to_string(),
            })?;
            Secret::new(value)
        }
    };
    let retired = if master_keys_retired.is_empty() {
        read_retired_keys(data_dir)?
    } else {
        master_keys_retired.to_vec()
    };
    Ok((master_key, retired))
}

/// The data dir's retired master keys; none when the file does not exist.
fn read_retired_keys(data_dir: &Path) -> Result<Vec<Secret>, BootstrapError> {
    let path = data_dir.join(RETIRED_KEYS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&path)(e)),
    };
    parse_key_list(&text).map_err(|reason| BootstrapError::BadMasterKey { path, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn first_start_generates_private_files_and_later_starts_reuse_them() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = {
            let lock = DataDirLock::acquire(&data).unwrap();
            embedded_credentials(&lock, None, None, &[]).unwrap()
        };
        assert!(first.new_operator_token);
        assert_eq!(mode(&data), DIR_MODE);
        for file in [TOKEN_FILE, MASTER_KEY_FILE, LOCK_FILE] {
            assert_eq!(mode(&data.join(file)), FILE_MODE, "{file}");
        }
        let lock = DataDirLock::acquire(&data).unwrap();
        let second = embedded_credentials(&lock, None, None, &[]).unwrap();
        assert!(!second.new_operator_token);
        assert_eq!(first.operator_token, second.operator_token);
        assert_eq!(first.master_key, second.master_key);
    }

    #[test]
    fn configured_credentials_win_over_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = Secret::new("configured-token-123");
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        let creds = embedded_credentials(&lock, Some(&token), None, &[]).unwrap();
        assert_eq!(creds.operator_token, token);
        assert!(!creds.new_operator_token);
        assert!(!dir.path().join(TOKEN_FILE).exists());
    }

    #[test]
    fn retired_keys_come_from_their_file_unless_configured() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        let none = embedded_credentials(&lock, None, None, &[]).unwrap();
        assert!(none.master_keys_retired.is_empty());
        assert!(!dir.path().join(RETIRED_KEYS_FILE).exists());

        let (a, b) = (MasterKey::generate_base64(), MasterKey::generate_base64());
        std::fs::write(dir.path().join(RETIRED_KEYS_FILE), format!("{a}\n{b}\n")).unwrap();
        let from_file = embedded_credentials(&lock, None, None, &[]).unwrap();
        assert_eq!(
            from_file.master_keys_retired,
            [Secret::new(a.clone()), Secret::new(b)]
        );
        let configured = [Secret::new(MasterKey::generate_base64())];
        let creds = embedded_credentials(&lock, None, None, &configured).unwrap();
        assert_eq!(creds.master_keys_retired, configured);

        std::fs::write(
            dir.path().join(RETIRED_KEYS_FILE),
            format!("{a}\nnot-a-key\n"),
        )
        .unwrap();
        let Err(error) = embedded_credentials(&lock, None, None, &[]) else {
            panic!("a bad retired key was accepted");
        };
        let message = error.to_string();
        assert!(message.contains(RETIRED_KEYS_FILE), "{message}");
        assert!(message.contains("key 2"), "{message}");
        assert!(!message.contains(&a), "{message}");
    }

    #[test]
    fn a_locked_dir_is_refused_naming_the_holder_until_the_lock_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file, so a second open in this process
        // conflicts exactly as another process would.
        let refused = DataDirLock::acquire(dir.path()).unwrap_err();
        let BootstrapError::InUse { path, holder } = &refused else {
            panic!("{refused:?}");
        };
        assert_eq!(path, dir.path());
        assert_eq!(*holder, Some(std::process::id()));
        assert_eq!(
            refused.to_string(),
            format!(
                "data dir {} is in use by another hookgate (pid {})",
                dir.path().display(),
                std::process::id()
            )
        );
        drop(held);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_holder_that_has_not_written_its_pid_is_reported_without_one() {
        let error = BootstrapError::InUse {
            path: PathBuf::from("/x/data"),
            holder: None,
        };
        assert_eq!(
            error.to_string(),
            "data dir /x/data is in use by another hookgate"
        );
    }

    #[test]
    fn an_existing_dir_and_its_files_are_made_private_but_symlink_targets_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
        std::fs::write(data.join("hookgate.db"), b"").unwrap();
        std::fs::set_permissions(data.join("hookgate.db"), Permissions::from_mode(0o644)).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"").unwrap();
        std::fs::set_permissions(&outside, Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();

        let _lock = DataDirLock::acquire(&data).unwrap();

        assert_eq!(mode(&data), DIR_MODE);
        assert_eq!(mode(&data.join("hookgate.db")), FILE_MODE);
        assert_eq!(mode(&outside), 0o644);
    }
}
