//! The HTTP listener: accepts connections up to a cap and serves each one with hyper,
//! under the edge's time limits (SPEC §16), so no client can hold what another needs.
//!
//! axum::serve has no header, body or idle timeouts and no connection cap, so each
//! connection is served here with hyper's conn API and watched by its own task:
//! - a connection with no request in flight is closed when the head of its next
//!   request takes longer than the header read timeout (counted from its first byte)
//!   or when it stays idle longer than the keep-alive timeout;
//! - a request body must arrive within the body read timeout ([`DeadlineBody`]; the
//!   handler answers 408);
//! - beyond `max_connections` a connection is answered 503 at once and closed, never
//!   queued;
//! - on shutdown, connections with no request in flight are closed at once, the others
//!   finish their request and close.

use super::body_deadline::DeadlineBody;
use crate::metrics::Metrics;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The listener's limits; every one is a setting (`hookgate serve --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 4096,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then waits for the open
/// connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: EdgeLimits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Our own watchdog times head reads (see `Activity`), so hyper's is off.
    builder.http1().header_read_timeout(None);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        // Latency over throughput: answers are small and written at once.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics.connections_refused.inc();
            connections.spawn(refuse(stream));
            continue;
        };
        let connection = Connection {
            peer,
            router: router.clone(),
            limits,
            builder: Arc::clone(&builder),
            metrics: Arc::clone(&metrics),
            shutdown: shutdown.clone(),
        };
        connections.spawn(async move {
            connection.serve(stream).await;
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Accept errors are about one connection (reset before accept) or about the process
/// (out of file descriptors); for the latter, pause rather than spin.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The answer to a connection beyond the cap: written at once, without parsing the
/// request, then the connection is closed. What the client sent meanwhile is read and
/// dropped (for at most a second) before closing: closing a socket with unread data
/// sends a reset, which can destroy the answer before the client reads it.
async fn refuse(mut stream: TcpStream) {
    let body = super::error::ApiError::unavailable("server")
        .envelope(&crate::id::new_id("req"))
        .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: EdgeLimits,
    builder: Arc<auto::Builder<TokioExecutor>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let _open = self.metrics.connection_opened();
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let service = {
            let (router, activity, peer) = (self.router.clone(), Arc::clone(&activity), self.peer);
            let body_timeout = self.limits.body_read_timeout;
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_flight = InFlight::begin(Arc::clone(&activity));
                let mut request = request
                    .map(|body| axum::body::Body::new(DeadlineBody::new(body, body_timeout)));
                request.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    // In flight until the response body is written out (or dropped):
                    // a long stream is not an idle connection.
                    let response = router.oneshot(request).await?;
                    Ok::<_, std::convert::Infallible>(response.map(|body| {
                        axum::body::Body::new(Tracked {
                            body,
                            _in_flight: in_flight,
                        })
                    }))
                }
            })
        };
        let connection = self.builder.serve_connection(io, service);
        tokio::pin!(connection);
        let watchdog = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(watchdog);
        let mut closing = false;
        // Shutdown found a whole request head received but not yet handed to the
        // service: close once it is (then it is in flight and finishes), not before.
        let mut close_when_dispatched = false;
        loop {
            if close_when_dispatched && !activity.idle() {
                close_when_dispatched = false;
                connection.as_mut().graceful_shutdown();
            }
            let deadline = activity.deadline(&self.limits);
            if let Some((at, _)) = deadline {
                watchdog.as_mut().reset(at);
            }
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, client.address = %self.peer, "connection ended");
                    }
                    return;
                }
                () = activity.changed.notified() => {}
                () = self.shutdown.cancelled(), if !closing => {
                    closing = true;
                    match activity.at_shutdown() {
                        AtShutdown::Idle => return,
                        AtShutdown::HeadReceived => close_when_dispatched = true,
                        AtShutdown::InFlight => connection.as_mut().graceful_shutdown(),
                    }
                }
                () = &mut watchdog, if deadline.is_some() => {
                    if let Some((at, reason)) = activity.deadline(&self.limits) {
                        if at <= Instant::now() {
                            self.metrics.connection_timed_out(reason);
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Where a connection stands when shutdown begins.
enum AtShutdown {
    /// Nothing of a request, or only part of its head: closed at once.
    Idle,
    /// A whole head arrived and is about to be served.
    HeadReceived,
    InFlight,
}

/// What the watchdog needs to know about one connection.
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken when a request ends or the head of the next one starts, so the watchdog
    /// re-arms its timer.
    changed: Notify,
}

struct ActivityState {
    in_flight: usize,
    /// Since when no request has been in flight.
    idle_since: Instant,
    /// When the first byte of the next request's head arrived (while none in flight).
    head_started: Option<Instant>,
    /// The head's blank line (`\r\n\r\n`) arrived: a whole request waits to be served.
    head_complete: bool,
    /// The last bytes read while none was in flight, to find that blank line across
    /// reads.
    tail: [u8; 3],
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                head_started: None,
                head_complete: false,
                tail: [0; 3],
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        // The state stays consistent whatever panicked while holding it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn idle(&self) -> bool {
        self.lock().in_flight == 0
    }

    fn at_shutdown(&self) -> AtShutdown {
        let state = self.lock();
        if state.in_flight > 0 {
            AtShutdown::InFlight
        } else if state.head_complete {
            AtShutdown::HeadReceived
        } else {
            AtShutdown::Idle
        }
    }

    /// When the connection must close if nothing changes, and why; `None` while a
    /// request is in flight.
    fn deadline(&self, limits: &EdgeLimits) -> Option<(Instant, &'static str)> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(at) => (at + limits.header_read_timeout, "header_read"),
            None => (state.idle_since + limits.keep_alive_timeout, "keep_alive"),
        })
    }

    /// Bytes arrived. While no request is in flight they are the next request's head:
    /// its first byte starts the header clock, its blank line completes it.
    fn bytes_read(&self, bytes: &[u8]) {
        let mut state = self.lock();
        if state.in_flight > 0 {
            return;
        }
        let started = state.head_started.is_none();
        if started {
            state.head_started = Some(Instant::now());
        }
        if !state.head_complete {
            state.head_complete = ends_a_head(&mut state.tail, bytes);
        }
        drop(state);
        if started {
            self.changed.notify_one();
        }
    }
}

/// Whether `bytes`, read after `tail` (the last three bytes read before them), hold a
/// head's blank line; `tail` moves on to the last three bytes read.
fn ends_a_head(tail: &mut [u8; 3], bytes: &[u8]) -> bool {
    const BLANK_LINE: &[u8] = b"\r\n\r\n";
    let mut joint = [0u8; 6];
    joint[..3].copy_from_slice(tail);
    let lead = bytes.len().min(3);
    joint[3..3 + lead].copy_from_slice(&bytes[..lead]);
    let found = memchr::memmem::find(&joint[..3 + lead], BLANK_LINE).is_some()
        || memchr::memmem::find(bytes, BLANK_LINE).is_some();
    let mut last = [0u8; 3];
    let from_tail = 3 - lead;
    last[..from_tail].copy_from_slice(&tail[3 - from_tail..]);
    last[from_tail..].copy_from_slice(&bytes[bytes.len() - lead..]);
    *tail = last;
    found
}

/// A request being served; the connection is idle again when the last one ends.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        {
            let mut state = activity.lock();
            state.in_flight += 1;
            state.head_started = None;
            state.head_complete = false;
            state.tail = [0; 3];
        }
        // A shutdown may be waiting for this request to be dispatched.
        activity.changed.notify_one();
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request in flight until it is done.
struct Tracked {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::ends_a_head;

    #[test]
    fn a_head_ends_at_its_blank_line_however_the_reads_split_it() {
        let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in 0..=head.len() {
            for second in split..=head.len() {
                let mut tail = [0u8; 3];
                let parts = [&head[..split], &head[split..second], &head[second..]];
                let found = parts.iter().any(|part| ends_a_head(&mut tail, part));
                assert!(found, "split at {split} and {second}");
            }
        }
        let mut tail = [0u8; 3];
        assert!(!ends_a_head(
            &mut tail,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        ));
        assert!(!ends_a_head(&mut tail, b"X-A: 1\r\n"));
        assert!(ends_a_head(&mut tail, b"\r\n"));
    }
}
