//! The real binary: first start on a bare machine, --help, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

/// Starts `hookgate serve` in `dir` on a free port; returns the child and the first
/// stdout lines (URL, token banner).
fn start_embedded(dir: &std::path::Path) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("HOOKGATE_DATABASE_URL")
        .env_remove("HOOKGATE_AMQP_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        let last = line.starts_with("  hgop_") || line.starts_with("operator token: see");
        lines.push(line);
        if last {
            break;
        }
    }
    (child, lines)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    panic!("hookgate did not exit within 5 s of SIGTERM");
}

#[tokio::test]
async fn first_start_prints_url_and_token_once_and_sigterm_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines) = start_embedded(dir.path());
    let url = lines[0]
        .strip_prefix("hookgate listening on ")
        .unwrap()
        .to_owned();
    let token = lines.last().unwrap().trim().to_owned();
    assert!(token.starts_with("hgop_"), "{lines:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hookgate-data/operator-token"))
            .unwrap()
            .trim(),
        token
    );

    let client = reqwest::Client::new();
    let reply = client
        .post(format!("{url}/v1/orgs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    assert!(terminate(&mut child).success());
    assert!(
        client.get(format!("{url}/healthz")).send().await.is_err(),
        "stopped accepting"
    );

    // The second start reuses the data dir: same token (not printed), same org.
    let (mut child, lines) = start_embedded(dir.path());
    assert!(lines.iter().all(|l| !l.contains(&token)), "{lines:?}");
    let url = lines[0].strip_prefix("hookgate listening on ").unwrap();
    let org = client
        .get(format!("{url}/v1/orgs/acme"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), 200);
    assert!(terminate(&mut child).success());
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let output = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "HOOKGATE_LISTEN",
        "HOOKGATE_PUBLIC_URL",
        "HOOKGATE_DATA_DIR",
        "HOOKGATE_DATABASE_URL",
        "HOOKGATE_AMQP_URL",
        "HOOKGATE_OPERATOR_TOKEN",
        "HOOKGATE_MASTER_KEY",
        "HOOKGATE_DELIVERY_ALLOW_CIDRS",
        "HOOKGATE_RETRY_SCHEDULE",
        "HOOKGATE_LOG_FORMAT",
        "HOOKGATE_ROLES",
        "HOOKGATE_CONFIG",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(help.contains("[default: 127.0.0.1:8080]"));
    assert!(help.contains("[default: 0s,5s,5m,30m,2h,5h,10h,10h]"));
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_setting() {
    let output = Command::new(BIN)
        .args(["serve", "--listen", "not-an-address"])
        .env_remove("HOOKGATE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("HOOKGATE_LISTEN"), "{stderr}");
}
