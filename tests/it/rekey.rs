//! Master-key rotation (SPEC §15) against the running server in both modes: source
//! secrets keep verifying and endpoint secrets keep signing across a rotation, a
//! re-keying, and a restart with the new key alone; `hookgate rekey` stopped after a
//! batch finishes when run again; a start with a secret under an unknown key fails.

use crate::hooks::{endpoint, publish, ALLOW_LOOPBACK};
use crate::in_both_modes;
use crate::ingress::{now, signed, source_body};
use crate::support::process::BIN;
use crate::support::receiver::{official_verifiers_accept, TestReceiver};
use crate::support::server::{Mode, MASTER_KEY, OPERATOR_TOKEN};
use crate::support::TestServer;
use hookgate::crypto::MasterKey;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

in_both_modes!(
    rotating_and_rekeying_while_serving_keeps_every_secret_verifying_and_signing,
    a_rekey_stopped_after_one_batch_finishes_when_run_again,
    a_start_with_a_secret_under_an_unknown_key_fails_naming_the_key_and_count,
    admin_rekey_is_refused_to_an_api_key,
);

/// The master key the tests rotate to.
const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const GITHUB_SECRET: &str = "old-secret-from-github";
const WAIT: Duration = Duration::from_secs(10);

fn key_id(key: &str) -> String {
    MasterKey::from_base64(key).unwrap().id().to_owned()
}

/// The key the server seals with now: production's flag, embedded mode's file.
fn current_key(server: &TestServer) -> String {
    match server.data_dir() {
        Some(dir) => std::fs::read_to_string(dir.join("master-key"))
            .unwrap()
            .trim()
            .to_owned(),
        None => server.flag("master-key").unwrap().to_owned(),
    }
}

/// Restarts with `NEW_KEY` current and the old key retired, as the runbook does it:
/// production by its settings, embedded mode by the data dir's files.
async fn rotate_to_new_key(server: TestServer) -> TestServer {
    let old = current_key(&server);
    server
        .restart_with(|flags, dir| match dir {
            Some(dir) => {
                std::fs::write(dir.join("master-keys-retired"), format!("{old}\n")).unwrap();
                std::fs::write(dir.join("master-key"), format!("{NEW_KEY}\n")).unwrap();
            }
            None => {
                flags.retain(|f| !f.starts_with("--master-key"));
                flags.push(format!("--master-key={NEW_KEY}"));
                flags.push(format!("--master-keys-retired={old}"));
            }
        })
        .await
        .unwrap()
}

/// Restarts with `NEW_KEY` alone: the retired key is forgotten.
async fn drop_retired_key(server: TestServer) -> Result<TestServer, hookgate::server::ServeError> {
    server
        .restart_with(|flags, dir| match dir {
            Some(dir) => {
                let _ = std::fs::remove_file(dir.join("master-keys-retired"));
                std::fs::write(dir.join("master-key"), format!("{NEW_KEY}\n")).unwrap();
            }
            None => {
                flags.retain(|f| !f.starts_with("--master-key"));
                flags.push(format!("--master-key={NEW_KEY}"));
            }
        })
        .await
}

async fn send_webhook(server: &TestServer, source_id: &str, secret: &str, id: &str) -> StatusCode {
    let verifier = json!({"type": "github"});
    let body = format!(r#"{{"delivery":"{id}"}}"#).into_bytes();
    server
        .send_webhook(
            source_id,
            &signed(&verifier, secret, &body, now(), id),
            &body,
        )
        .await
        .status
}

/// Publishes a run event and checks the official verifiers accept its delivery with
/// `secret`, the endpoint's `whsec_` value as created.
async fn delivery_verifies(
    server: &TestServer,
    receiver: &TestReceiver,
    secret: &str,
    event_id: &str,
) {
    let already = receiver.received().len();
    publish(
        server,
        json!({"event_id": event_id, "type": "run.completed", "run_id": "run_1", "data": {}}),
    )
    .await;
    let received = receiver.wait_for(already + 1, WAIT).await;
    let delivery = received
        .iter()
        .find(|r| r.header("webhook-id") == Some(event_id))
        .unwrap();
    assert!(
        official_verifiers_accept(secret, delivery),
        "{event_id}: signed with the endpoint's secret"
    );
}

/// Checks `hookgate_secrets_sealed` has exactly these series (in any order).
async fn assert_sealed_gauge(server: &TestServer, expected: &[(&str, u64)]) {
    let text = server.call(Method::GET, "/metrics", None, None).await.body;
    let mut got: Vec<&str> = text
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("hookgate_secrets_sealed{"))
        .collect();
    got.sort_unstable();
    let mut expected: Vec<String> = expected
        .iter()
        .map(|(id, n)| format!("hookgate_secrets_sealed{{key_id=\"{id}\"}} {n}"))
        .collect();
    expected.sort_unstable();
    assert_eq!(got, expected);
}

async fn rotating_and_rekeying_while_serving_keeps_every_secret_verifying_and_signing(mode: Mode) {
    let server = TestServer::start_with(mode, &[ALLOW_LOOPBACK]).await;
    let receiver = TestReceiver::start().await;
    let (_, endpoint_secret) = endpoint(&server, &receiver.url, json!({})).await;
    let (source_id, _) = server
        .create_source(
            "acme",
            source_body(&json!({"type": "github"}), Some(GITHUB_SECRET)),
        )
        .await;
    let rotated = server
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            OPERATOR_TOKEN,
            json!({"grace_period_s": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let rotated_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    let old_id = key_id(&current_key(&server));
    let new_id = key_id(NEW_KEY);

    let server = rotate_to_new_key(server).await;
    for (secret, id) in [(GITHUB_SECRET, "d1"), (rotated_secret.as_str(), "d2")] {
        assert_eq!(
            send_webhook(&server, &source_id, secret, id).await,
            StatusCode::ACCEPTED,
            "{id}: a secret sealed under the retired key still verifies"
        );
    }
    delivery_verifies(&server, &receiver, &endpoint_secret, "evt_before_rekey").await;
    // Counted at start: the endpoint's secret and the source's two.
    assert_sealed_gauge(&server, &[(&new_id, 0), (&old_id, 3), ("unknown", 0)]).await;

    // Webhooks keep arriving while the secrets are re-sealed.
    let senders = async {
        let mut statuses = Vec::new();
        for i in 0..20 {
            statuses.push(send_webhook(&server, &source_id, GITHUB_SECRET, &format!("w{i}")).await);
        }
        statuses
    };
    let (rekeyed, statuses) = tokio::join!(
        server.post("/v1/admin/rekey", OPERATOR_TOKEN, json!({})),
        senders
    );
    assert!(
        statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    assert_eq!(rekeyed.status, StatusCode::OK, "{}", rekeyed.body);
    assert_eq!(
        rekeyed.body,
        json!({"key_id": new_id, "resealed": {old_id.as_str(): 3}, "total": 3,
               "unopenable": 0, "remaining": 0})
    );
    let again = server
        .post("/v1/admin/rekey", OPERATOR_TOKEN, json!({}))
        .await;
    assert_eq!(
        again.body,
        json!({"key_id": new_id, "resealed": {}, "total": 0, "unopenable": 0, "remaining": 0}),
        "a second run has nothing left to do"
    );
    assert_sealed_gauge(&server, &[(&new_id, 3), (&old_id, 0), ("unknown", 0)]).await;
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    let rekeyed: Vec<&Value> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "master_key.rekeyed")
        .collect();
    assert_eq!(rekeyed.len(), 1, "{}", audit.body);
    assert_eq!(rekeyed[0]["actor"], "operator");
    assert_eq!(rekeyed[0]["target"], new_id.as_str());
    assert_eq!(
        rekeyed[0]["details"],
        json!({"counts": {old_id.as_str(): 3}, "to_key_id": new_id})
    );
    let text = audit.body.to_string();
    assert!(!text.contains(GITHUB_SECRET) && !text.contains(&endpoint_secret));

    let server = drop_retired_key(server).await.unwrap();
    for (secret, id) in [(GITHUB_SECRET, "d3"), (rotated_secret.as_str(), "d4")] {
        assert_eq!(
            send_webhook(&server, &source_id, secret, id).await,
            StatusCode::ACCEPTED,
            "{id}: verifies with the new key alone"
        );
    }
    delivery_verifies(&server, &receiver, &endpoint_secret, "evt_after_rekey").await;
    assert_sealed_gauge(&server, &[(&new_id, 3), ("unknown", 0)]).await;
    server.stop().await.unwrap();
}

/// `hookgate rekey` with the settings of `server` (production: its database, with the
/// old key retired; embedded: its stopped data dir, whose files say the same).
fn rekey_cli(database: Option<&str>, dir: Option<&Path>, old: &str, extra: &[&str]) -> String {
    let mut command = Command::new(BIN);
    command.arg("rekey");
    for variable in [
        "HOOKGATE_DATABASE_URL",
        "HOOKGATE_MASTER_KEY",
        "HOOKGATE_MASTER_KEYS_RETIRED",
        "HOOKGATE_DATA_DIR",
        "HOOKGATE_CONFIG",
    ] {
        command.env_remove(variable);
    }
    match (database, dir) {
        (Some(url), _) => {
            command.args([
                format!("--database-url={url}"),
                format!("--master-key={NEW_KEY}"),
                format!("--master-keys-retired={old}"),
            ]);
        }
        (None, Some(dir)) => {
            command.arg(format!("--data-dir={}", dir.display()));
        }
        (None, None) => unreachable!(),
    }
    let output = command.args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains(old) && !stdout.contains(NEW_KEY) && !stderr.contains(old));
    stdout
}

async fn a_rekey_stopped_after_one_batch_finishes_when_run_again(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    for _ in 0..5 {
        server
            .create_source("acme", source_body(&json!({"type": "github"}), None))
            .await;
    }
    let old = current_key(&server);
    let (old_id, new_id) = (key_id(&old), key_id(NEW_KEY));
    // Production re-keys while the instance serves; an embedded data dir belongs to
    // one process, so its server stops first and its files name the keys.
    let (database, dir, server) = match mode {
        Mode::Production => (
            server.flag("database-url").map(str::to_owned),
            None,
            Some(server),
        ),
        Mode::Embedded => {
            let dir = server.stop_keeping_data_dir().await.unwrap();
            std::fs::write(dir.path().join("master-keys-retired"), format!("{old}\n")).unwrap();
            std::fs::write(dir.path().join("master-key"), format!("{NEW_KEY}\n")).unwrap();
            (None, Some(dir), None)
        }
    };
    let dir_path = dir.as_ref().map(|d| d.path());
    let run = |extra: &[&str]| rekey_cli(database.as_deref(), dir_path, &old, extra);

    let first = run(&["--batch-size=2", "--max-batches=1"]);
    assert_eq!(
        first,
        format!(
            "re-sealed 2 secrets under master key {new_id}\n\
             FROM KEY  SECRETS\n\
             {old_id}  2\n\
             3 secrets still sealed under other keys: run hookgate rekey again to go on\n"
        )
    );
    let second = run(&["--batch-size=2"]);
    assert_eq!(
        second,
        format!(
            "re-sealed 3 secrets under master key {new_id}\n\
             FROM KEY  SECRETS\n\
             {old_id}  3\n\
             every secret is sealed under the current master key\n"
        )
    );
    let third = run(&[]);
    assert_eq!(
        third,
        format!(
            "re-sealed 0 secrets under master key {new_id}\n\
             every secret is sealed under the current master key\n"
        )
    );
    if let Some(server) = server {
        let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
        let mut counts: Vec<u64> = audit.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "master_key.rekeyed" && e["actor"] == "operator")
            .map(|e| e["details"]["counts"][&old_id].as_u64().unwrap())
            .collect();
        counts.sort_unstable();
        assert_eq!(counts, [1, 2, 2], "one entry a batch");
        server.stop().await.unwrap();
    }
}

async fn a_start_with_a_secret_under_an_unknown_key_fails_naming_the_key_and_count(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    server
        .create_source("acme", source_body(&json!({"type": "github"}), None))
        .await;
    server
        .create_source("acme", source_body(&json!({"type": "github"}), None))
        .await;
    let old_id = key_id(&current_key(&server));
    let Err(error) = drop_retired_key(server).await else {
        panic!("started without the key its secrets are sealed under");
    };
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "2 secrets sealed under master key {old_id}, which is neither"
        )),
        "{message}"
    );
    assert!(
        message.contains("HOOKGATE_MASTER_KEYS_RETIRED"),
        "{message}"
    );
    assert!(!message.contains(MASTER_KEY) && !message.contains(NEW_KEY));
}

async fn admin_rekey_is_refused_to_an_api_key(mode: Mode) {
    let server = TestServer::start(mode).await;
    server.create_org("acme").await;
    let key = server.mint_key("acme", &[]).await;
    let refused = server.post("/v1/admin/rekey", &key, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "operator_required");
    let anonymous = server
        .call(Method::POST, "/v1/admin/rekey", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let audit = server.get("/v1/orgs/acme/audit", OPERATOR_TOKEN).await;
    assert!(
        !audit.body.to_string().contains("master_key.rekeyed"),
        "a refused call changes nothing"
    );
    server.stop().await.unwrap();
}

/// Production rolls a rotation across instances (the runbook's order): each instance
/// first learns the new key as retired, then instances seal with it one by one, the
/// re-keying runs on one while the other serves, and the old key is dropped last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_rolling_to_a_new_key_verify_each_others_secrets_throughout() {
    let database = crate::support::postgres_url().await;
    let prefix = crate::support::amqp_prefix();
    let learns_new = format!("--master-keys-retired={NEW_KEY}");
    let a = TestServer::production_flags_pub(&database, &prefix, &[&learns_new]).await;
    let b = TestServer::production_flags_pub(&database, &prefix, &[&learns_new]).await;
    a.create_org("acme").await;
    let (source_id, _) = a
        .create_source(
            "acme",
            source_body(&json!({"type": "github"}), Some(GITHUB_SECRET)),
        )
        .await;
    let b = b
        .restart_with(|flags, _| {
            flags.retain(|f| !f.starts_with("--master-key"));
            flags.push(format!("--master-key={NEW_KEY}"));
            flags.push(format!("--master-keys-retired={MASTER_KEY}"));
        })
        .await
        .unwrap();
    let rotated = b
        .post(
            &format!("/v1/sources/{source_id}/secrets/rotate"),
            OPERATOR_TOKEN,
            json!({"grace_period_s": 3600}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let sealed_by_b = rotated.body["secret"].as_str().unwrap().to_owned();
    let mut n = 0;
    let mut all_verify = |label: &'static str| {
        let (a, b, source_id, sealed_by_b) = (&a, &b, &source_id, &sealed_by_b);
        n += 1;
        let round = n;
        async move {
            for (server, name) in [(a, "a"), (b, "b")] {
                for (secret, which) in [(GITHUB_SECRET, "k1"), (sealed_by_b.as_str(), "k2")] {
                    let id = format!("{label}-{round}-{name}-{which}");
                    // A source's secrets are cached for up to a second on each instance.
                    let verified = crate::support::eventually(Duration::from_secs(3), || async {
                        send_webhook(server, source_id, secret, &id).await == StatusCode::ACCEPTED
                    })
                    .await;
                    assert!(
                        verified,
                        "{label}: instance {name} verifies the {which} secret"
                    );
                }
            }
        }
    };
    all_verify("mixed").await;
    let rekeyed = b.post("/v1/admin/rekey", OPERATOR_TOKEN, json!({})).await;
    assert_eq!(rekeyed.body["resealed"], json!({key_id(MASTER_KEY): 1}));
    assert_eq!(rekeyed.body["remaining"], 0);
    all_verify("rekeyed").await;
    let new_only = |flags: &mut Vec<String>, _: Option<&Path>| {
        flags.retain(|f| !f.starts_with("--master-key"));
        flags.push(format!("--master-key={NEW_KEY}"));
    };
    let a = a.restart_with(new_only).await.unwrap();
    let b = b.restart_with(new_only).await.unwrap();
    for (server, name) in [(&a, "a"), (&b, "b")] {
        for (secret, which) in [(GITHUB_SECRET, "k1"), (sealed_by_b.as_str(), "k2")] {
            assert_eq!(
                send_webhook(server, &source_id, secret, &format!("new-{name}-{which}")).await,
                StatusCode::ACCEPTED,
                "instance {name} with the new key alone verifies the {which} secret"
            );
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
