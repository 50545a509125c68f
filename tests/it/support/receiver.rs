//! A product backend stand-in: records every delivery it gets and answers with a
//! scripted status sequence (then 200), optionally after a delay.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    statuses: VecDeque<u16>,
    delay: Duration,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct TestReceiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
    arrived: Arc<Notify>,
}

async fn receive(
    State(receiver): State<TestReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (status, delay) = {
        let mut script = receiver.script.lock().unwrap();
        script.received.push(Received {
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        (script.statuses.pop_front().unwrap_or(200), script.delay)
    };
    receiver.arrived.notify_waiters();
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap()
}

impl TestReceiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Self {
            url: format!("http://{}/hooks", listener.local_addr().unwrap()),
            script: Arc::default(),
            arrived: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// The next answers, in order; 200 after they run out.
    pub fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().statuses.extend(statuses);
    }

    /// Answers only after this long (to make the sender time out).
    pub fn delay(&self, delay: Duration) {
        self.script.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived, or `within` passed.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let received = self.received();
            if received.len() >= n || tokio::time::Instant::now() >= deadline {
                return received;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// Verifies a delivery with the official `standardwebhooks` and `svix` Python libraries
/// (tests/senders/verify_delivery.py); true when both accept.
pub fn official_verifiers_accept(secret: &str, received: &Received) -> bool {
    use std::io::Write;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/senders-venv/bin/python");
    assert!(
        python.exists(),
        "run scripts/test: it installs the test venv"
    );
    let headers: serde_json::Map<String, serde_json::Value> = received
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("webhook-"))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let input = serde_json::json!({"headers": headers, "body": received.body});
    let mut child = std::process::Command::new(python)
        .arg(root.join("tests/senders/verify_delivery.py"))
        .arg(secret)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().status.success()
}
