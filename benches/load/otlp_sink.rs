//! `--otlp-sink`: a stand-in OpenTelemetry collector that takes hookgate's trace exports
//! (OTLP/HTTP, `POST /v1/traces`), reads each body to its end, counts it and answers
//! 200. hookgate is started with `--otlp-endpoint` pointing at it, so a run measures
//! ingress with trace export on. It runs on its own one-thread runtime.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    bytes: AtomicU64,
}

pub struct OtlpSink {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn take(
    counts: Arc<Counts>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match request.into_body().collect().await {
        Ok(body) => {
            counts.requests.fetch_add(1, Ordering::Relaxed);
            counts
                .bytes
                .fetch_add(body.to_bytes().len() as u64, Ordering::Relaxed);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    Ok(response)
}

async fn serve(listener: TcpListener, counts: Arc<Counts>, mut stop: oneshot::Receiver<()>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let counts = Arc::clone(&counts);
        tokio::spawn(async move {
            let service = service_fn(move |request| take(Arc::clone(&counts), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl OtlpSink {
    pub fn start() -> anyhow::Result<Self> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let counts = Arc::new(Counts::default());
        let served = Arc::clone(&counts);
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = addr_tx.send(Err(anyhow::Error::from(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                match TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => {
                        let addr = listener.local_addr().map_err(anyhow::Error::from);
                        let _ = addr_tx.send(addr);
                        serve(listener, served, stop_rx).await;
                    }
                    Err(error) => {
                        let _ = addr_tx.send(Err(error.into()));
                    }
                }
            });
        });
        let addr = addr_rx.recv()??;
        Ok(Self {
            addr,
            counts,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The `hookgate serve` flag that sends traces here.
    pub fn serve_arg(&self) -> String {
        format!("--otlp-endpoint=http://{}", self.addr)
    }

    /// One line: what was exported to the sink.
    pub fn print(&self) {
        println!(
            "otlp sink: {} export requests, {} bytes",
            self.counts.requests.load(Ordering::Relaxed),
            self.counts.bytes.load(Ordering::Relaxed)
        );
    }
}

impl Drop for OtlpSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
