//! The operator CLI (SPEC §9) as an operator runs it: the built binary against the real
//! server, configured only through HOOKGATE_URL and HOOKGATE_TOKEN.

use crate::support::process::BIN;
use crate::support::server::{Mode, OPERATOR_TOKEN};
use crate::support::{eventually, TestServer};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert!(
            self.success,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--json output must parse ({e}): {}", self.stdout))
    }

    /// The value of a `name  value` line of a fields table.
    pub fn field(&self, name: &str) -> String {
        self.stdout
            .lines()
            .filter_map(|line| line.split_once("  "))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_else(|| panic!("no field {name:?} in:\n{}", self.stdout))
    }
}

/// Runs `sh -c <script>` or the binary off the async workers, so the server keeps serving.
async fn run(
    program: &str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    stdin: &[u8],
) -> Run {
    let (program, stdin) = (program.to_owned(), stdin.to_vec());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(program)
            .args(args)
            .env_remove("HOOKGATE_CONFIG")
            .env_remove("HOOKGATE_SIGN_SECRET")
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        let output = child.wait_with_output().unwrap();
        Run {
            success: output.status.success(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// `hookgate <args>` with HOOKGATE_URL = `url` and HOOKGATE_TOKEN = `token`.
async fn hookgate_at(url: &str, token: &str, args: &[&str], stdin: &[u8]) -> Run {
    let env = vec![
        ("HOOKGATE_URL", url.to_owned()),
        ("HOOKGATE_TOKEN", token.to_owned()),
    ];
    let args = args.iter().map(|a| (*a).to_owned()).collect();
    run(BIN, args, env, stdin).await
}

pub async fn hookgate(server: &TestServer, args: &[&str]) -> Run {
    hookgate_at(&server.url, OPERATOR_TOKEN, args, b"").await
}

/// Runs a printed curl command with `sh -c`; returns the response's status code and text.
async fn sh(script: &str) -> (u16, String) {
    let out = run("sh", vec!["-c".into(), script.into()], vec![], b"")
        .await
        .ok();
    let status = out
        .stdout
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in: {}", out.stdout));
    (status, out.stdout)
}

/// `hookgate sign --curl` for a github source, body on stdin; returns the command.
async fn signed_curl(server: &TestServer, source_id: &str, secret: &str, body: &str) -> String {
    let args = [
        "sign",
        "--verifier",
        "github",
        "--secret",
        secret,
        "--curl",
        "--source",
        source_id,
    ];
    hookgate_at(&server.url, "", &args, body.as_bytes())
        .await
        .ok()
        .stdout
}

async fn server_with_org() -> TestServer {
    let server = TestServer::start(Mode::Embedded).await;
    hookgate(&server, &["orgs", "create", "acme", "--name", "Acme"])
        .await
        .ok();
    server
}

/// Creates a github source through the CLI; returns (id, secret).
async fn github_source(server: &TestServer, secret: &str) -> (String, String) {
    let created = hookgate(
        server,
        &[
            "sources",
            "create",
            "--org",
            "acme",
            "--name",
            "gh",
            "--workflow",
            "wf_deploy",
            "--verifier",
            "github",
            "--secret",
            secret,
            "--event-filter",
            "push,pull_request",
        ],
    )
    .await
    .ok();
    (created.field("source"), created.field("secret"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_create_then_show_prints_the_org_as_table_and_json() {
    let server = server_with_org().await;
    let shown = hookgate(&server, &["orgs", "show", "acme"]).await.ok();
    assert_eq!(shown.field("slug"), "acme");
    assert_eq!(shown.field("name"), "Acme");
    let json = hookgate(&server, &["orgs", "show", "acme", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["slug"], "acme");
    let listed = hookgate(&server, &["orgs", "list"]).await.ok();
    let rows: Vec<&str> = listed.stdout.lines().collect();
    assert!(rows[0].starts_with("SLUG"), "{}", listed.stdout);
    assert!(
        rows.iter().any(|row| row.starts_with("acme ")),
        "{}",
        listed.stdout
    );
    let json = hookgate(&server, &["orgs", "list", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["data"][0]["slug"], "acme");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_github_source_prints_id_url_and_secret_and_is_listed_by_id() {
    let server = server_with_org().await;
    let (source_id, secret) = github_source(&server, "gh-secret-1").await;
    assert!(source_id.starts_with("src_"), "{source_id}");
    assert_eq!(secret, "gh-secret-1");

    let list = hookgate(&server, &["sources", "list", "--org", "acme"])
        .await
        .ok();
    let header = list.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("ID ") && header.contains("VERIFIER"),
        "{header}"
    );
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&source_id))
        .unwrap_or_else(|| panic!("{source_id} not listed:\n{}", list.stdout));
    assert!(
        row.contains("github") && row.contains("push,pull_request"),
        "{row}"
    );
    assert!(!list.stdout.contains(&secret), "lists never show secrets");

    let listed = hookgate(&server, &["sources", "list", "--org", "acme", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(listed["data"][0]["id"], source_id.as_str());
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_curl_command_from_stdin_body_reaches_the_server_and_gets_202() {
    let server = server_with_org().await;
    let (source_id, secret) = github_source(&server, "It's a Secret to Everybody").await;
    // Quotes in the body and the secret must survive the shell.
    let command = signed_curl(&server, &source_id, &secret, r#"{"ref":"it's main"}"#).await;
    assert!(command.starts_with("curl "), "{command}");
    let (status, response) = sh(&command).await;
    assert_eq!(status, 202, "{response}");
    assert!(response.contains(r#""status":"queued""#), "{response}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_then_expire_old_secret_moves_acceptance_from_old_to_new() {
    let server = server_with_org().await;
    let (source_id, old) = github_source(&server, "old-secret").await;

    let rotated = hookgate(
        &server,
        &["sources", "rotate-secret", &source_id, "--grace", "1h"],
    )
    .await
    .ok();
    let new = rotated.field("secret");
    assert_ne!(new, old);
    let old_id = rotated
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("PREVIOUS SECRET"))
        .nth(1)
        .and_then(|row| row.split_whitespace().next())
        .unwrap_or_else(|| panic!("no previous secret in:\n{}", rotated.stdout))
        .to_owned();

    let body = r#"{"ref":"main"}"#;
    let (status, _) = sh(&signed_curl(&server, &source_id, &old, body).await).await;
    assert_eq!(status, 202, "old secret verifies during the grace period");

    let expired = hookgate(&server, &["sources", "expire-secret", &source_id, &old_id])
        .await
        .ok();
    assert!(expired.stdout.contains(&old_id), "{}", expired.stdout);

    let (status, _) = sh(&signed_curl(&server, &source_id, &old, body).await).await;
    assert_eq!(status, 401, "expired secret refused at once");
    let (status, _) = sh(&signed_curl(&server, &source_id, &new, body).await).await;
    assert_eq!(status, 202, "new secret verifies");

    let shown = hookgate(&server, &["sources", "show", &source_id])
        .await
        .ok();
    let old_row = shown
        .stdout
        .lines()
        .find(|l| l.starts_with(&old_id))
        .unwrap_or_else(|| panic!("{old_id} not shown:\n{}", shown.stdout));
    assert!(old_row.contains("false"), "old secret inactive: {old_row}");
    let json = hookgate(&server, &["sources", "show", &source_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["source"]["id"], source_id.as_str());
    assert_eq!(json["secrets"]["data"].as_array().unwrap().len(), 2);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_show_the_reason_of_a_request_signed_with_the_wrong_secret() {
    let server = server_with_org().await;
    let (source_id, _) = github_source(&server, "right-secret").await;
    let forged = signed_curl(&server, &source_id, "wrong-secret", "{}").await;
    assert_eq!(sh(&forged).await.0, 401);

    let args = ["sources", "rejections", &source_id, "--json"];
    let sampled = eventually(Duration::from_secs(5), || async {
        let json = hookgate(&server, &args).await.ok().json();
        json["data"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    assert!(sampled, "rejection sample recorded");
    let json = hookgate(&server, &args).await.ok().json();
    assert_eq!(json["data"][0]["reason"], "signature_invalid");
    let table = hookgate(&server, &["sources", "rejections", &source_id])
        .await
        .ok();
    assert!(
        table.stdout.contains("signature_invalid") && table.stdout.contains("x-hub-signature-256"),
        "{}",
        table.stdout
    );
    server.stop().await.unwrap();
}

/// The body of a response `sh` printed with its headers (`curl -i`), parsed.
fn response_body(response: &str) -> Value {
    let body = response.rsplit("\r\n\r\n").next().unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("no JSON body ({e}) in: {response}"))
}

/// The row of a table whose first cell is `id`.
fn row<'a>(table: &'a Run, id: &str) -> &'a str {
    table
        .stdout
        .lines()
        .find(|line| line.split_whitespace().next() == Some(id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{}", table.stdout))
}

/// The cursor of the `(more: --cursor …)` hint under a table.
fn next_cursor(table: &Run) -> String {
    table
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("(more: --cursor "))
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no next-page hint:\n{}", table.stdout))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_shows_the_run_a_webhook_started() {
    let server = server_with_org().await;
    let (source_id, secret) = github_source(&server, "gh-secret").await;
    let (status, response) = sh(&signed_curl(&server, &source_id, &secret, "{}").await).await;
    assert_eq!(status, 202, "{response}");
    let accepted = response_body(&response);
    let run_id = accepted["run_id"].as_str().unwrap().to_owned();
    let event_id = accepted["event_id"].as_str().unwrap().to_owned();

    let listed = hookgate(&server, &["runs", "list", "--org", "acme"])
        .await
        .ok();
    let header: Vec<&str> = listed
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "WORKFLOW", "STATUS", "TRIGGER", "SOURCE", "CREATED", "UPDATED"]
    );
    let cells: Vec<&str> = row(&listed, &run_id).split_whitespace().collect();
    assert_eq!(cells[1..5], ["wf_deploy", cells[2], "webhook", &source_id]);
    assert!(["queued", "published"].contains(&cells[2]), "{cells:?}");

    let json = hookgate(&server, &["runs", "list", "--org", "acme", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["data"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["data"][0]["id"], run_id.as_str());
    assert_eq!(json["data"][0]["trigger"]["event_id"], event_id.as_str());
    assert_eq!(json["next_cursor"], Value::Null);

    // The filters reach the API: this run's workflow and status match, others do not.
    let run_status = json["data"][0]["status"].as_str().unwrap().to_owned();
    let filtered = ["runs", "list", "--org", "acme", "--workflow", "wf_deploy"];
    let matching = hookgate(
        &server,
        &[&filtered[..], &["--status", &run_status]].concat(),
    )
    .await
    .ok();
    row(&matching, &run_id);
    for other in [
        &["--workflow", "wf_other"][..],
        &["--status", "completed"][..],
    ] {
        let args = [&["runs", "list", "--org", "acme", "--json"][..], other].concat();
        let json = hookgate(&server, &args).await.ok().json();
        assert_eq!(json["data"], serde_json::json!([]), "{other:?}");
    }
    assert!(
        !hookgate(
            &server,
            &["runs", "list", "--org", "acme", "--status", "done"]
        )
        .await
        .success,
        "an unknown status is refused"
    );

    let shown = hookgate(&server, &["runs", "show", &run_id]).await.ok();
    assert_eq!(shown.field("id"), run_id);
    assert_eq!(shown.field("org"), "acme");
    assert_eq!(shown.field("workflow"), "wf_deploy");
    assert_eq!(shown.field("trigger"), "webhook");
    assert_eq!(shown.field("source"), source_id);
    assert_eq!(shown.field("event"), event_id);
    let json = hookgate(&server, &["runs", "show", &run_id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["id"], run_id.as_str());
    assert_eq!(json["trigger"]["source_id"], source_id.as_str());
    let missing = hookgate(&server, &["runs", "show", "run_missing"]).await;
    assert!(
        !missing.success && missing.stderr.contains("not_found"),
        "{}",
        missing.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_pages_with_the_cursor_it_prints() {
    let server = server_with_org().await;
    let (source_id, secret) = github_source(&server, "gh-secret").await;
    let mut started = Vec::new();
    for n in 0..3 {
        let body = format!(r#"{{"n":{n}}}"#);
        let (status, response) = sh(&signed_curl(&server, &source_id, &secret, &body).await).await;
        assert_eq!(status, 202, "{response}");
        started.push(
            response_body(&response)["run_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = hookgate(&server, &["runs", "list", "--org", "acme", "--limit", "2"])
        .await
        .ok();
    let cursor = next_cursor(&first);
    let args = [
        "runs", "list", "--org", "acme", "--limit", "2", "--cursor", &cursor,
    ];
    let second = hookgate(&server, &args).await.ok();
    assert!(!second.stdout.contains("(more:"), "{}", second.stdout);
    // Newest first: the last run started is on the first page, the first on the second.
    row(&first, &started[2]);
    row(&first, &started[1]);
    row(&second, &started[0]);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_what_the_operator_did() {
    let server = server_with_org().await;
    let minted = hookgate(
        &server,
        &[
            "keys",
            "mint",
            "--org",
            "acme",
            "--name",
            "auditor",
            "--scopes",
            "audit:read",
        ],
    )
    .await
    .ok();
    let (key_id, key) = (minted.field("id"), minted.field("key"));
    let (source_id, _) = github_source(&server, "gh-secret").await;
    hookgate(
        &server,
        &["sources", "rotate-secret", &source_id, "--grace", "1h"],
    )
    .await
    .ok();

    let table = hookgate(&server, &["audit", "--org", "acme"]).await.ok();
    let lines: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"]);
    // Newest first; the time takes two cells (`2024-05-01 12:00:00Z`).
    let rows: Vec<(&str, &str, &str)> = lines[1..]
        .iter()
        .map(|cells| (cells[2], cells[3], cells[4]))
        .collect();
    assert_eq!(
        rows,
        [
            ("operator", "secret_rotated", source_id.as_str()),
            ("operator", "source_created", source_id.as_str()),
            ("operator", "api_key_minted", key_id.as_str()),
            ("operator", "org_created", "acme"),
        ],
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.contains(&key),
        "the audit log never shows a key"
    );

    // --json is the API's page as received; a key with audit:read may read it too.
    let json = hookgate_at(
        &server.url,
        &key,
        &["audit", "--org", "acme", "--json"],
        b"",
    )
    .await
    .ok()
    .json();
    let actions: Vec<&str> = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "secret_rotated",
            "source_created",
            "api_key_minted",
            "org_created"
        ]
    );
    assert_eq!(json["data"][2]["target"], key_id.as_str());

    let first = hookgate(&server, &["audit", "--org", "acme", "--limit", "3"])
        .await
        .ok();
    let cursor = next_cursor(&first);
    let rest = hookgate(&server, &["audit", "--org", "acme", "--cursor", &cursor])
        .await
        .ok();
    assert_eq!(rest.stdout.lines().count(), 2, "{}", rest.stdout);
    assert!(rest.stdout.contains("org_created"), "{}", rest.stdout);

    // Another org's audit log is not found, for the key and its table alike.
    hookgate(&server, &["orgs", "create", "globex"]).await.ok();
    let refused = hookgate_at(&server.url, &key, &["audit", "--org", "globex"], b"").await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("not_found"), "{}", refused.stderr);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_key_works_until_revoked_then_is_unauthenticated() {
    let server = server_with_org().await;
    let minted = hookgate(
        &server,
        &[
            "keys",
            "mint",
            "--org",
            "acme",
            "--name",
            "ci",
            "--scopes",
            "source:read,run:read",
        ],
    )
    .await
    .ok();
    let (key_id, key) = (minted.field("id"), minted.field("key"));
    assert!(key.starts_with("hg_"), "{key}");
    let listed = hookgate(&server, &["keys", "list", "--org", "acme"])
        .await
        .ok();
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&key_id))
        .unwrap_or_else(|| panic!("{key_id} not listed:\n{}", listed.stdout));
    assert!(row.contains("run:read,source:read"), "{row}");
    assert!(!listed.stdout.contains(&key), "lists never show keys");

    let as_key = ["sources", "list", "--org", "acme"];
    hookgate_at(&server.url, &key, &as_key, b"").await.ok();
    hookgate(&server, &["keys", "revoke", &key_id]).await.ok();
    let refused = hookgate_at(&server.url, &key, &as_key, b"").await;
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("unauthenticated"),
        "{}",
        refused.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_exits_non_zero_and_prints_unauthenticated_with_request_id() {
    let server = server_with_org().await;
    let refused = hookgate_at(&server.url, "not-a-token", &["orgs", "show", "acme"], b"").await;
    assert!(!refused.success);
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("unauthenticated"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("request id "), "{}", refused.stderr);
    assert!(
        !refused.stderr.contains("not-a-token"),
        "never echo the token"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_error_prints_the_envelope_code_and_message() {
    let server = server_with_org().await;
    let missing = hookgate(&server, &["sources", "show", "src_missing"]).await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("not_found: no such resource"),
        "{}",
        missing.stderr
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_exits_non_zero_and_names_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let failed = hookgate_at(&url, OPERATOR_TOKEN, &["orgs", "show", "acme"], b"").await;
    assert!(!failed.success);
    assert!(
        failed
            .stderr
            .contains(&format!("cannot reach {url}/v1/orgs/acme")),
        "{}",
        failed.stderr
    );
}

#[test]
fn completion_scripts_name_every_command_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_hookgate()"),
        ("zsh", "#compdef hookgate"),
        ("fish", "complete -c hookgate"),
    ] {
        let output = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(marker), "{shell}");
        for command in [
            "serve",
            "orgs",
            "sources",
            "endpoints",
            "deliveries",
            "runs",
            "audit",
            "sign",
        ] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    // `| head` closes the pipe early: no panic, exit 0.
    let mut child = Command::new(BIN)
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait_with_output().unwrap();
    assert!(status.status.success(), "{status:?}");
    assert!(
        status.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    let version = String::from_utf8(output.stdout).unwrap();
    assert!(version.starts_with("hookgate 0."), "{version}");
    // Only a git checkout knows its commit (a source tarball says the version alone).
    if !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".git")
        .exists()
    {
        return;
    }
    let commit = version
        .trim()
        .rsplit_once('(')
        .and_then(|(_, c)| c.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {version}"));
    assert!(
        commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{version}"
    );
}
