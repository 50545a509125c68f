//! Outbound signatures (`delivery::payload`) as receivers check them: with the official
//! `standardwebhooks` and `svix` Python libraries (tests/senders/verify_delivery.py, run
//! in the venv scripts/test builds), across a secret rotation.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::Utc;
use hookgate::delivery::payload;
use hookgate::verify::SigningKey;
use serde_json::json;

const OLD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW_SECRET: &str = "whsec_dGhlIG5ldyBzZWNyZXQgYWZ0ZXIgYSByb3RhdGlvbg==";
const WRONG_SECRET: &str = "whsec_c29tZW9uZSBlbHNlJ3Mgc2VjcmV0IGVudGlyZWx5";

/// Whether both official libraries, knowing only `secret`, accept the delivery.
fn receiver_accepts(secret: &str, headers: &[(&'static str, String)], body: &[u8]) -> bool {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/senders-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which installs the senders' libraries",
        python.display()
    );
    let headers: serde_json::Map<_, _> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    let delivery = json!({"headers": headers, "body": std::str::from_utf8(body).unwrap()});
    let mut child = Command::new(python)
        .arg(root.join("tests/senders/verify_delivery.py"))
        .arg(secret)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(delivery.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("WebhookVerificationError"),
        "the verifier itself failed: {stderr}"
    );
    output.status.success()
}

#[test]
fn receivers_on_either_side_of_a_rotation_accept_and_a_wrong_secret_is_refused() {
    let body = payload::body(
        "run.completed",
        Utc::now(),
        &json!({"run_id": "run_01HZX", "status": "succeeded"}),
    );
    let headers = payload::headers(
        "evt_01HZXQ2M8W3Q",
        Utc::now().timestamp(),
        &body,
        &[
            SigningKey::new(OLD_SECRET.as_bytes()).unwrap(),
            SigningKey::new(NEW_SECRET.as_bytes()).unwrap(),
        ],
    )
    .unwrap();
    let check = |secret: &str, expect: bool| {
        assert_eq!(
            receiver_accepts(secret, &headers, &body),
            expect,
            "{secret}"
        );
    };
    check(OLD_SECRET, true);
    check(NEW_SECRET, true);
    check(WRONG_SECRET, false);
}
