//! The OTLP exporter's HTTP client: the reqwest (hyper, tokio) client hookgate already
//! builds for deliveries, so export adds no second HTTP stack.

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};

/// Collector answers are a few bytes (an `ExportTraceServiceResponse`); anything
/// larger is cut off rather than held.
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub(super) struct CollectorClient(reqwest::Client);

impl CollectorClient {
    pub(super) fn new(timeout: std::time::Duration) -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map(Self)
    }
}

#[async_trait]
impl HttpClient for CollectorClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let mut response = self.0.execute(request).await?;
        let mut answer = Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = MAX_RESPONSE.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room < chunk.len() {
                break;
            }
        }
        Ok(answer.body(Bytes::from(body))?)
    }
}
