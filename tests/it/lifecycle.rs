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
        "HOOKGATE_HEADER_READ_TIMEOUT",
        "HOOKGATE_BODY_READ_TIMEOUT",
        "HOOKGATE_KEEP_ALIVE_TIMEOUT",
        "HOOKGATE_MAX_CONNECTIONS",
        "HOOKGATE_TRUSTED_PROXIES",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
    assert!(help.contains("[default: 127.0.0.1:8080]"));
    assert!(help.contains("[default: 0s,5s,5m,30m,2h,5h,10h,10h]"));
    assert!(help.contains("[default: 10s]"), "header read timeout");
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

#[tokio::test]
async fn sigterm_lets_an_in_flight_webhook_finish_before_exiting_zero() {
    use crate::ingress::{now, signed, source_body};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let token = "in-flight-operator-token-123";
    let server = ServerProcess::start(dir.path(), &[format!("--operator-token={token}")]);
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", server.url))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    post(
        "/v1/orgs",
        serde_json::json!({"slug": "acme", "name": "Acme"}),
    )
    .await
    .unwrap();
    let created: serde_json::Value = post(
        "/v1/orgs/acme/sources",
        source_body(&serde_json::json!({"type": "github"}), None),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let (source_id, secret) = (
        created["source"]["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    let body =
        br#"{"ref":"refs/heads/main","padding":"..........................................."}"#;
    let headers = signed(
        &serde_json::json!({"type": "github"}),
        secret,
        body,
        now(),
        "in-flight-1",
    );

    // Half a request on the wire, then SIGTERM.
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut head = format!(
        "POST /v1/ingress/{source_id} HTTP/1.1\r\nhost: {address}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    // In flight means the server has read the head: a head still in the kernel's
    // buffer is, to the server, an idle connection, which shutdown closes at once. On a
    // busy machine the read can lag the write, so give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pid = server.pid();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    // Shutdown has begun once new connections are refused.
    let refusing = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(&address).await.is_err()
    })
    .await;
    assert!(refusing, "stopped accepting new connections");

    stream.write_all(&body[10..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
    assert!(server.wait_exit().success(), "exit 0 after draining");
}
