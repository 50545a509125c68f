//! The network edge of a delivery: one HTTP client shared by all endpoints (reqwest
//! pools connections per host, HTTP/2 negotiated by ALPN) and one attempt = one POST.
//!
//! **Architecture Invariant:** a delivery connects only to addresses the [`SsrfPolicy`]
//! permits: hostnames resolve through the [`GuardedResolver`], IP literals are checked
//! before sending, redirects are never followed and no proxy is used (a proxy would
//! resolve the destination where the policy cannot see it).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use reqwest::{redirect, Url};
use tokio::time::{timeout_at, Instant};

use super::outcome::{classify_error, AttemptOutcome, ErrorClass};
use super::ssrf::{GuardedResolver, SsrfPolicy};

/// How much of a response body an attempt keeps (and reads) for the attempt log.
pub const BODY_PREFIX_LIMIT: usize = 4 * 1024;

const USER_AGENT: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

/// The delivery client. Fails only if the TLS backend cannot be set up.
pub fn build_client(
    policy: Arc<SsrfPolicy>,
    connect_timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .no_proxy()
        .connect_timeout(connect_timeout)
        .user_agent(USER_AGENT)
        .build()
}

/// What the receiver answered, as logged with the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRecord {
    pub status: u16,
    /// In received order; values not valid UTF-8 are kept lossily.
    pub headers: Vec<(String, String)>,
    /// At most [`BODY_PREFIX_LIMIT`] bytes; the rest is never read.
    pub body_prefix: Bytes,
}

impl ResponseRecord {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub response: Result<ResponseRecord, ErrorClass>,
}

impl AttemptResult {
    /// What the attempt achieved; an HTTP-date `Retry-After` counts from when the
    /// attempt ended.
    pub fn outcome(&self) -> AttemptOutcome {
        match &self.response {
            Ok(record) => {
                let answered_at =
                    self.started_at + chrono::Duration::from_std(self.duration).unwrap_or_default();
                AttemptOutcome::from_status(
                    record.status,
                    record.header("retry-after"),
                    answered_at,
                )
            }
            Err(class) => AttemptOutcome::from_error(*class),
        }
    }
}

/// POSTs `body` to `url`. `timeout` bounds the whole attempt: connecting, the answer,
/// and reading the body prefix. An answer whose status arrived in time counts even if
/// its body did not finish: the prefix then holds what arrived.
pub async fn attempt(
    client: &reqwest::Client,
    policy: &SsrfPolicy,
    url: &Url,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
) -> AttemptResult {
    let started_at = Utc::now();
    let start = Instant::now();
    let deadline = start + timeout;
    let response = match policy.check_url(url) {
        Err(_) => Err(ErrorClass::Blocked),
        Ok(()) => {
            let request = client.post(url.clone()).headers(headers).body(body);
            match timeout_at(deadline, request.send()).await {
                Err(_elapsed) => Err(ErrorClass::Timeout),
                Ok(Err(error)) => Err(classify_error(&error)),
                Ok(Ok(response)) => Ok(record(response, deadline).await),
            }
        }
    };
    AttemptResult {
        started_at,
        duration: start.elapsed(),
        response,
    }
}

async fn record(mut response: reqwest::Response, deadline: Instant) -> ResponseRecord {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let mut prefix = BytesMut::new();
    while prefix.len() < BODY_PREFIX_LIMIT {
        match timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let wanted = (BODY_PREFIX_LIMIT - prefix.len()).min(chunk.len());
                prefix.extend_from_slice(&chunk[..wanted]);
            }
            // The end of the body, a broken connection or the deadline: keep what came.
            Ok(Ok(None) | Err(_)) | Err(_) => break,
        }
    }
    // Dropping the response here closes (HTTP/1.1) or resets (HTTP/2) the rest.
    ResponseRecord {
        status,
        headers,
        body_prefix: prefix.freeze(),
    }
}
