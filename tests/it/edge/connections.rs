//! Connection limits against the real binary over raw sockets (SPEC §16): header,
//! body and keep-alive timeouts, the connection cap, and a shutdown that does not wait
//! for connections with no request in flight.

use crate::in_both_modes;
use crate::support::process::ServerProcess;
use crate::support::server::{Mode, MASTER_KEY};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "edge-operator-token-0123456789";

fn start(flags: &[&str]) -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![format!("--operator-token={TOKEN}")];
    args.extend(flags.iter().map(|f| f.to_string()));
    let server = ServerProcess::start(dir.path(), &args);
    (dir, server)
}

/// The binary in `mode`: production mode on its own schema and exchange prefix, whose
/// relay, delivery workers and consumer must not hold up a shutdown either.
async fn start_in(mode: Mode, flags: &[&str]) -> (tempfile::TempDir, ServerProcess) {
    let mut all: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    if mode == Mode::Production {
        all.extend([
            format!("--database-url={}", crate::support::postgres_url().await),
            format!("--amqp-url={}", crate::support::AMQP_URL),
            format!("--amqp-exchange-prefix={}", crate::support::amqp_prefix()),
            format!("--master-key={MASTER_KEY}"),
            "--amqp-queue-type=classic".to_owned(),
        ]);
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    tokio::task::block_in_place(|| start(&all))
}

fn address(server: &ServerProcess) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `within` passes); returns what was
/// read and how long the close took.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into(),
                    Some(started.elapsed()),
                )
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), None),
        }
    }
}

/// One complete keep-alive request, answer read by its Content-Length.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering: {received:?}");
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_read_timeout() {
    let (_dir, server) = start(&["--header-read-timeout=1s"]);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let closed = closed.expect("closed within 5 s");
    assert!(
        closed >= Duration::from_millis(900),
        "closed too early: {closed:?}"
    );
}

#[tokio::test]
async fn headers_sent_slowly_within_the_timeout_are_served() {
    let (_dir, server) = start(&["--header-read-timeout=2s"]);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    for part in ["GET /healthz HTTP/1.1\r\n", "Host: x\r\n", "\r\n"] {
        stream.write_all(part.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (answer, _) = read_until_closed(&mut stream, Duration::from_millis(500)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let (_dir, server) = start(&["--keep-alive-timeout=1s"]);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    // Used twice within the timeout: each request restarts the idle clock.
    for _ in 0..2 {
        assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "idle connection still open after 5 s");
}

#[tokio::test]
async fn a_body_trickled_past_the_body_read_timeout_is_answered_408() {
    let (_dir, server) = start(&["--body-read-timeout=1s"]);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    let head = format!(
        "POST /v1/orgs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: 64\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(closed.is_some(), "connection left open after the 408");
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn connections_beyond_the_cap_are_answered_503_at_once_and_room_is_given_back(mode: Mode) {
    let (_dir, server) = start_in(mode, &["--max-connections=3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address(&server)).await.unwrap();
        assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = TcpStream::connect(address(&server)).await.unwrap();
    let started = Instant::now();
    // A real client sends its request at once; the answer must survive it unread.
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(1), extra.read(&mut first))
        .await
        .expect("answered within a second")
        .unwrap();
    let answer = String::from_utf8_lossy(&first[..read]).to_string();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"unavailable""#), "{answer}");
    let (_, closed) = read_until_closed(&mut extra, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "closed after the answer");

    drop(held.pop());
    let served = crate::support::eventually(Duration::from_secs(5), || {
        let address = address(&server);
        async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(2)).await;
            answer.starts_with("HTTP/1.1 200")
        }
    })
    .await;
    assert!(served, "a freed slot serves again");
}

async fn sigterm_closes_connections_with_no_request_in_flight_at_once_and_exits_zero(mode: Mode) {
    let (_dir, server) = start_in(mode, &[]).await;
    let mut idle = TcpStream::connect(address(&server)).await.unwrap();
    assert!(healthz(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut half = TcpStream::connect(address(&server)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let silent = TcpStream::connect(address(&server)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown waited {:?} on idle connections",
        started.elapsed()
    );
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(1)).await;
    assert!(closed.is_some());
    drop(silent);
}

in_both_modes!(
    connections_beyond_the_cap_are_answered_503_at_once_and_room_is_given_back,
    sigterm_closes_connections_with_no_request_in_flight_at_once_and_exits_zero,
);
