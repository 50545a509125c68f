//! Logs as an SRE reads them (SPEC §16): one access line per request at INFO with the
//! client, user agent and principal; 4xx are not warnings; no token in any line; the
//! start banner in the configured format.

use crate::support::process::BIN;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "logging-operator-token-0123456789";

#[tokio::test]
async fn json_logs_have_one_access_line_per_request_and_a_json_banner() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(format!("--operator-token={TOKEN}"))
        .arg("--trusted-proxies=127.0.0.0/8")
        .env("HOOKGATE_LOG_FORMAT", "json")
        .env_remove("HOOKGATE_LOG")
        .env_remove("HOOKGATE_DATABASE_URL")
        .env_remove("HOOKGATE_AMQP_URL")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let banner: Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("banner is not JSON ({e}): {first}"));
    assert_eq!(banner["level"], "INFO");
    let url = banner["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{banner}");

    let client = reqwest::Client::new();
    let create = || {
        client
            .post(format!("{url}/v1/orgs"))
            .bearer_auth(TOKEN)
            .header("user-agent", "edge-test/1.0")
            .header("x-forwarded-for", "198.51.100.7")
            .json(&serde_json::json!({"slug": "acme", "name": "Acme"}))
            .send()
    };
    assert_eq!(create().await.unwrap().status(), 201);
    let conflict = create().await.unwrap();
    assert_eq!(conflict.status(), 409);
    let request_id = conflict.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(!logs.contains(TOKEN), "a token reached the logs:\n{logs}");
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().all(|l| l["level"] == "INFO"),
        "a 409 or anything else logged above INFO:\n{logs}"
    );
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(access.len(), 3, "one access line per request:\n{logs}");
    let line = access
        .iter()
        .find(|l| l["request.id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access line for {request_id}:\n{logs}"));
    assert_eq!(line["http.request.method"], "POST", "{line}");
    assert_eq!(line["http.route"], "/v1/orgs", "{line}");
    assert_eq!(line["http.response.status_code"], 409, "{line}");
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");
    assert_eq!(line["client.address"], "198.51.100.7", "{line}");
    assert_eq!(line["user_agent.original"], "edge-test/1.0", "{line}");
    assert_eq!(line["principal"], "operator", "{line}");
    assert_eq!(line["error.code"], "conflict", "{line}");
}
