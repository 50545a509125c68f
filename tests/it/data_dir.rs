//! Embedded mode's data dir (SPEC §16): one process at a time, the dir 0700 and every
//! file in it 0600, whether hookgate created the dir or found it.

use crate::support::process::{ServerProcess, BIN};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Asserts the dir is 0700 and holds only regular files, each 0600; returns their names.
fn assert_private(dir: &Path) -> Vec<String> {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(entry.file_type().unwrap().is_file(), "{name} is not a file");
        assert_eq!(mode(&entry.path()), 0o600, "{name}");
        names.push(name);
    }
    names.sort();
    names
}

/// Runs `hookgate <args>` to completion (killed after 10 s); returns whether it
/// succeeded, its stderr and how long it took.
fn run_to_exit(dir: &Path, args: &[&str]) -> (bool, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("HOOKGATE_DATABASE_URL")
        .env_remove("HOOKGATE_AMQP_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hookgate {args:?} still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.success(), stderr, started.elapsed())
}

async fn create_org(server: &ServerProcess, token: &str, slug: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{}/v1/orgs", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({"slug": slug, "name": slug}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn second_instance_on_the_same_data_dir_exits_naming_the_dir_and_holder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_flag = format!("--data-dir={}", data.display());
    let first = ServerProcess::start(dir.path(), std::slice::from_ref(&data_flag));

    let (succeeded, stderr, took) = run_to_exit(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", &data_flag],
    );

    assert!(!succeeded, "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        stderr.contains(&format!(
            "data dir {} is in use by another hookgate (pid {})",
            data.display(),
            first.pid()
        )),
        "{stderr}"
    );
    // The refused instance changed nothing the first one relies on.
    let token = first.banner.last().unwrap().trim().to_owned();
    assert_eq!(create_org(&first, &token, "acme").await, 201);
    assert!(first.terminate().success());
}

#[tokio::test]
async fn migrate_on_a_data_dir_in_use_fails_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_flag = format!("--data-dir={}", data.display());
    let server = ServerProcess::start(dir.path(), std::slice::from_ref(&data_flag));

    let (succeeded, stderr, _) = run_to_exit(dir.path(), &["migrate", &data_flag]);

    assert!(!succeeded, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "data dir {} is in use by another hookgate (pid {})",
            data.display(),
            server.pid()
        )),
        "{stderr}"
    );
    assert!(server.terminate().success());
    let (succeeded, stderr, _) = run_to_exit(dir.path(), &["migrate", &data_flag]);
    assert!(succeeded, "once the server is gone: {stderr}");
}

#[test]
fn a_killed_holder_leaves_the_data_dir_usable() {
    let dir = tempfile::tempdir().unwrap();
    let data_flag = format!("--data-dir={}", dir.path().join("data").display());
    ServerProcess::start(dir.path(), std::slice::from_ref(&data_flag)).crash();

    // The kernel drops the lock with the process: no stale lock to clear by hand.
    let restarted = ServerProcess::start(dir.path(), std::slice::from_ref(&data_flag));
    assert!(restarted.terminate().success());
}

#[tokio::test]
async fn data_dir_is_0700_and_every_file_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(dir.path(), &[format!("--data-dir={}", data.display())]);
    let created = assert_private(&data);
    for name in ["hookgate.db", "lock", "master-key", "operator-token"] {
        assert!(created.contains(&name.to_owned()), "{name} in {created:?}");
    }

    // A write makes SQLite create its -wal and -shm files next to the database.
    let token = server.banner.last().unwrap().trim().to_owned();
    assert_eq!(create_org(&server, &token, "acme").await, 201);
    let serving = assert_private(&data);
    for name in ["hookgate.db-shm", "hookgate.db-wal"] {
        assert!(serving.contains(&name.to_owned()), "{name} in {serving:?}");
    }

    assert!(server.terminate().success());
    assert_private(&data);
}

#[tokio::test]
async fn existing_data_dir_with_loose_permissions_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = "hgop_restored-from-a-backup-0123456789";
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("operator-token"), format!("{token}\n")).unwrap();
    // Empty: SQLite takes it as a new database, and gives its -wal and -shm its mode.
    std::fs::write(data.join("hookgate.db"), b"").unwrap();
    for (path, loose) in [
        (data.clone(), 0o755),
        (data.join("operator-token"), 0o644),
        (data.join("hookgate.db"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }

    let server = ServerProcess::start(dir.path(), &[format!("--data-dir={}", data.display())]);
    assert_private(&data);
    assert_eq!(
        create_org(&server, token, "acme").await,
        201,
        "token reused"
    );
    let serving = assert_private(&data);
    assert!(
        serving.contains(&"hookgate.db-wal".to_owned()),
        "{serving:?}"
    );
    assert!(server.terminate().success());
}
