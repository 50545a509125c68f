//! One delivery attempt against local receivers: the SSRF guard, redirects, the body
//! prefix limit, and the error classes of SPEC §6. No PostgreSQL or RabbitMQ needed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hookgate::delivery::{
    attempt, build_client, payload, AttemptOutcome, AttemptResult, ErrorClass, SsrfPolicy,
    BODY_PREFIX_LIMIT,
};
use hookgate::verify::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LOOPBACK: &[&str] = &["127.0.0.1/32"];

/// A raw TCP receiver on 127.0.0.1 that hands every connection to `handle` and counts them.
struct Receiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start<F, Fut>(handle: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream));
            }
        });
        Self { addr, connections }
    }

    /// Answers every request with `response` (raw HTTP/1.1), then reads until the
    /// client closes.
    async fn answering(response: &[u8]) -> Self {
        let response = Bytes::copy_from_slice(response);
        Self::start(move |mut stream| {
            let response = response.clone();
            async move {
                read_head(&mut stream).await;
                stream.write_all(&response).await.unwrap();
                drain(stream).await;
            }
        })
        .await
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads the request line and headers.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

async fn drain(mut stream: TcpStream) {
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink).await;
}

/// Signs and POSTs one delivery to `url` with `allow` as the allow-list.
async fn deliver(allow: &[&str], url: &str, timeout: Duration) -> AttemptResult {
    let policy = Arc::new(SsrfPolicy::new(
        allow.iter().map(|cidr| cidr.parse().unwrap()).collect(),
    ));
    let client = build_client(Arc::clone(&policy), Duration::from_secs(2)).unwrap();
    let body = payload::body(
        "run.completed",
        Utc::now(),
        &serde_json::json!({"ok": true}),
    );
    let keys = [SigningKey::new(SECRET).unwrap()];
    let headers = payload::headers("evt_01TEST", Utc::now().timestamp(), &body, &keys).unwrap();
    let headers = payload::header_map(&headers).unwrap();
    let url = url.parse().unwrap();
    attempt(&client, &policy, &url, headers, Bytes::from(body), timeout).await
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn error_class(result: &AttemptResult) -> ErrorClass {
    match &result.response {
        Err(class) => *class,
        Ok(record) => panic!("expected an error, got status {}", record.status),
    }
}

#[tokio::test]
async fn an_allow_listed_receiver_gets_a_signed_post_and_its_answer_is_recorded() {
    let (heads, mut received) = mpsc::unbounded_channel();
    let receiver = Receiver::start(move |mut stream| {
        let heads = heads.clone();
        async move {
            heads.send(read_head(&mut stream).await).unwrap();
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nx-receiver: yes\r\n\r\n")
                .await
                .unwrap();
            drain(stream).await;
        }
    })
    .await;
    let result = deliver(LOOPBACK, &receiver.url("http", "/hook"), TIMEOUT).await;
    let record = result.response.as_ref().unwrap();
    assert_eq!(record.status, 204);
    assert_eq!(record.header("X-Receiver"), Some("yes"));
    assert_eq!(result.outcome(), AttemptOutcome::Delivered { status: 204 });
    let head = received.recv().await.unwrap().to_ascii_lowercase();
    assert!(head.starts_with("post /hook http/1.1\r\n"), "{head}");
    for expected in [
        concat!("user-agent: hookgate/", env!("CARGO_PKG_VERSION")),
        "webhook-id: evt_01test",
        "webhook-timestamp: ",
        "webhook-signature: v1,",
        "content-type: application/json",
    ] {
        assert!(head.contains(expected), "{expected} not in {head}");
    }
}

#[tokio::test]
async fn loopback_is_blocked_unless_allow_listed() {
    let receiver = Receiver::answering(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let url = receiver.url("http", "/");
    let blocked = deliver(&[], &url, TIMEOUT).await;
    assert_eq!(error_class(&blocked), ErrorClass::Blocked);
    assert_eq!(
        blocked.outcome(),
        AttemptOutcome::from_error(ErrorClass::Blocked)
    );
    assert_eq!(receiver.connections(), 0);
    let allowed = deliver(LOOPBACK, &url, TIMEOUT).await;
    assert_eq!(allowed.response.unwrap().status, 200);
    assert_eq!(receiver.connections(), 1);
}

#[tokio::test]
async fn a_hostname_resolving_to_loopback_is_blocked_after_dns() {
    let receiver = Receiver::answering(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let url = format!("http://localhost:{}/", receiver.addr.port());
    let blocked = deliver(&[], &url, TIMEOUT).await;
    assert_eq!(error_class(&blocked), ErrorClass::Blocked);
    assert_eq!(receiver.connections(), 0);
    // Allow-listing 127.0.0.1 lets the name through to that address only.
    let allowed = deliver(LOOPBACK, &url, TIMEOUT).await;
    assert_eq!(allowed.response.unwrap().status, 200);
}

#[tokio::test]
async fn the_metadata_address_is_refused_without_a_connection() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
    ] {
        let result = deliver(LOOPBACK, url, TIMEOUT).await;
        assert_eq!(error_class(&result), ErrorClass::Blocked, "{url}");
        assert!(result.duration < Duration::from_secs(1), "{url}");
    }
}

#[tokio::test]
async fn a_redirect_is_recorded_and_not_followed() {
    let target = Receiver::answering(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let location = target.url("http", "/elsewhere");
    let response = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
    );
    let redirecting = Receiver::answering(response.as_bytes()).await;
    let result = deliver(LOOPBACK, &redirecting.url("http", "/"), TIMEOUT).await;
    let record = result.response.as_ref().unwrap();
    assert_eq!(record.status, 307);
    assert_eq!(record.header("location"), Some(location.as_str()));
    assert_eq!(
        result.outcome(),
        AttemptOutcome::Failed {
            class: ErrorClass::Status,
            status: Some(307),
            retry_after: None
        }
    );
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn retry_after_on_503_and_gone_on_410_reach_the_outcome() {
    let busy = Receiver::answering(
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 120\r\ncontent-length: 4\r\n\r\nbusy",
    )
    .await;
    let result = deliver(LOOPBACK, &busy.url("http", "/"), TIMEOUT).await;
    assert_eq!(result.response.as_ref().unwrap().body_prefix, "busy");
    assert_eq!(
        result.outcome(),
        AttemptOutcome::Failed {
            class: ErrorClass::Status,
            status: Some(503),
            retry_after: Some(Duration::from_secs(120))
        }
    );
    let gone = Receiver::answering(b"HTTP/1.1 410 Gone\r\ncontent-length: 0\r\n\r\n").await;
    let result = deliver(LOOPBACK, &gone.url("http", "/"), TIMEOUT).await;
    assert_eq!(result.outcome(), AttemptOutcome::Gone);
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn only_the_first_4_kib_of_a_1_mib_body_is_kept() {
    let receiver = Receiver::start(|mut stream| async move {
        read_head(&mut stream).await;
        let body = pattern(1 << 20);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        stream.write_all(head.as_bytes()).await.unwrap();
        // The client stops reading after 4 KiB and closes: the write may fail.
        let _ = stream.write_all(&body).await;
    })
    .await;
    let result = deliver(LOOPBACK, &receiver.url("http", "/"), TIMEOUT).await;
    let record = result.response.unwrap();
    assert_eq!(record.status, 200);
    assert_eq!(record.body_prefix.len(), BODY_PREFIX_LIMIT);
    assert_eq!(record.body_prefix, pattern(BODY_PREFIX_LIMIT));
}

#[tokio::test]
async fn the_prefix_is_returned_without_waiting_for_the_rest_of_the_body() {
    // Promises 1 MiB, sends 8 KiB, then stalls: reading the whole body would time out.
    let receiver = Receiver::start(|mut stream| async move {
        read_head(&mut stream).await;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 1 << 20);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&pattern(8 * 1024)).await.unwrap();
        std::future::pending::<()>().await;
    })
    .await;
    let result = deliver(LOOPBACK, &receiver.url("http", "/"), TIMEOUT).await;
    assert!(result.duration < TIMEOUT / 2, "{:?}", result.duration);
    let record = result.response.unwrap();
    assert_eq!(record.body_prefix, pattern(BODY_PREFIX_LIMIT));
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_within_the_timeout() {
    let receiver = Receiver::start(|mut stream| async move {
        read_head(&mut stream).await;
        std::future::pending::<()>().await;
    })
    .await;
    let timeout = Duration::from_millis(500);
    let result = deliver(LOOPBACK, &receiver.url("http", "/"), timeout).await;
    assert_eq!(error_class(&result), ErrorClass::Timeout);
    assert!(result.duration >= timeout, "{:?}", result.duration);
    assert!(
        result.duration < timeout + Duration::from_secs(1),
        "{:?}",
        result.duration
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = deliver(LOOPBACK, &format!("http://127.0.0.1:{port}/"), TIMEOUT).await;
    assert_eq!(error_class(&result), ErrorClass::Connect);
}

#[tokio::test]
async fn an_unresolvable_name_is_a_dns_error() {
    let result = deliver(&[], "https://no-such-host.invalid/hook", TIMEOUT).await;
    assert_eq!(error_class(&result), ErrorClass::Dns);
}

#[tokio::test]
async fn a_receiver_that_does_not_speak_tls_is_a_tls_error() {
    let receiver = Receiver::start(|mut stream| async move {
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        drain(stream).await;
    })
    .await;
    let result = deliver(LOOPBACK, &receiver.url("https", "/"), TIMEOUT).await;
    assert_eq!(error_class(&result), ErrorClass::Tls);
}
