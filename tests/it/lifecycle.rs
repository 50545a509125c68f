//! The real binary: first start on a bare machine, --help, graceful shutdown.

use crate::support::process::{ServerProcess, BIN};
use std::process::Command;

#[tokio::test]
async fn first_start_prints_url_and_token_once_and_sigterm_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let token = server.banner.last().unwrap().trim().to_owned();
    assert!(token.starts_with("hgop_"), "{:?}", server.banner);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hookgate-data/operator-token"))
            .unwrap()
            .trim(),
        token
    );

    let client = reqwest::Client::new();
    let reply = client
        .post(format!("{}/v1/orgs", server.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let url = server.url.clone();
    assert!(server.terminate().success());
    assert!(
        client.get(format!("{url}/healthz")).send().await.is_err(),
        "stopped accepting"
    );

    // The second start reuses the data dir: same token (not printed), same org.
    let server = ServerProcess::start(dir.path(), &[]);
    assert!(
        server.banner.iter().all(|l| !l.contains(&token)),
        "{:?}",
        server.banner
    );
    let org = client
        .get(format!("{}/v1/orgs/acme", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), 200);
    assert!(server.terminate().success());
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
