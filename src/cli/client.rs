//! The operator CLI's only HTTP client: one method per verb over the REST API (SPEC §7),
//! errors as the API's envelope (SPEC §8) gave them, and [`Client::event_stream`], a
//! Server-Sent Events response read chunk by chunk.

use bytes::Bytes;
use clap::Args;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Where the API is and who is calling. Shared by every operator subcommand.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Base URL of hookgate's API.
    #[arg(long, env = "HOOKGATE_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub url: String,
    /// The operator token or an API key (`hg_…`).
    #[arg(
        long,
        env = "HOOKGATE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid API URL {url:?} (--url / HOOKGATE_URL): {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{0:?} is not a valid id")]
    BadSegment(String),
    #[error("cannot reach {url}")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// An open event stream broke off (or stayed silent past the read timeout).
    #[error("the stream from {url} broke off")]
    StreamBroken {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The API refused the request; its error envelope.
    #[error("{code}: {message} (HTTP {status}, request id {request_id}){hint}")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
        /// Extra advice from the CLI, e.g. that no token was given.
        hint: &'static str,
    },
    /// A 2xx answer to a request for an event stream that is not one.
    #[error("{url} did not answer with an event stream (text/event-stream)")]
    NotAStream { url: String },
    /// Something answered that is not hookgate's API (a proxy page, a wrong port).
    #[error("{url} answered HTTP {status} without a hookgate error envelope: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

impl ClientError {
    /// Whether trying the same request again later may succeed: the API could not be
    /// reached, or answered with a server error or 429. A refusal (401, 403, 404, 422)
    /// stays one.
    pub fn is_transient(&self) -> bool {
        let transient = |status: u16| status >= 500 || status == 429;
        match self {
            Self::Network { .. } | Self::StreamBroken { .. } => true,
            Self::Api { status, .. } | Self::Unexpected { status, .. } => transient(*status),
            Self::BadUrl { .. } | Self::BadSegment(_) | Self::NotAStream { .. } => false,
        }
    }
}

/// A successful response: its status, the parsed body, and its text as received (for
/// `--json`). An empty body (204) is `Value::Null` and an empty text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub value: Value,
    pub text: String,
}

/// An open `text/event-stream` response, read as its bytes arrive.
pub struct EventStream {
    url: Url,
    response: Response,
}

impl EventStream {
    /// The next bytes of the stream as they arrived (split anywhere); `None` once the
    /// server has ended it.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        self.response
            .chunk()
            .await
            .map_err(|source| ClientError::StreamBroken {
                url: self.url.to_string(),
                source,
            })
    }
}

/// Longest a request may take, answer included (an event stream excepted).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest an answer may stay silent between two reads: an event stream sends a comment
/// at least every 15 s, so three missed ones mean the connection is gone.
const READ_TIMEOUT: Duration = Duration::from_secs(45);

pub struct Client {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(connection: &Connection) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: connection.url.clone(),
            reason,
        };
        let base = Url::parse(&connection.url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("must be an http:// or https:// URL".to_owned()));
        }
        // No overall timeout on the client: requests take REQUEST_TIMEOUT each, and an
        // event stream, open as long as its run goes on, only READ_TIMEOUT per read.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("hookgate-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ClientError::Network {
                url: connection.url.clone(),
                source,
            })?;
        Ok(Self {
            base,
            token: connection.token.clone().filter(|t| !t.is_empty()),
            http,
        })
    }

    pub async fn get(&self, path: &[&str], query: &[(&str, String)]) -> Result<Reply, ClientError> {
        self.send(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &[&str], body: &Value) -> Result<Reply, ClientError> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    pub async fn patch(&self, path: &[&str], body: &Value) -> Result<Reply, ClientError> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    pub async fn delete(&self, path: &[&str]) -> Result<Reply, ClientError> {
        self.send(Method::DELETE, path, &[], None).await
    }

    /// `GET path` as a Server-Sent Events stream (`Accept: text/event-stream`), resuming
    /// after `last_event_id` when given. Anything but a 2xx event stream is an error, as
    /// for the other calls.
    pub async fn event_stream(
        &self,
        path: &[&str],
        last_event_id: Option<u64>,
    ) -> Result<EventStream, ClientError> {
        let url = join(&self.base, path)?;
        let mut request = self
            .request(Method::GET, &url)
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Network {
                url: url.to_string(),
                source,
            })?;
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if response.status().is_success() && is_stream {
            return Ok(EventStream { url, response });
        }
        // A 2xx that is not a stream: a server that does not stream this.
        self.reply(&url, response).await?;
        Err(ClientError::NotAStream {
            url: url.to_string(),
        })
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        let request = self.http.request(method, url.clone());
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, ClientError> {
        let mut url = join(&self.base, path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.request(method, &url).timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Network {
                url: url.to_string(),
                source,
            })?;
        self.reply(&url, response).await
    }

    /// A response read to its end: the reply of a 2xx, else the API's error.
    async fn reply(&self, url: &Url, response: Response) -> Result<Reply, ClientError> {
        let network = |source| ClientError::Network {
            url: url.to_string(),
            source,
        };
        let status = response.status();
        let header_request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(network)?;
        let parsed = if text.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str::<Value>(&text)
        };
        if status.is_success() {
            return match parsed {
                Ok(value) => Ok(Reply {
                    status: status.as_u16(),
                    value,
                    text,
                }),
                Err(_) => Err(unexpected(url, status, &text)),
            };
        }
        let envelope = parsed.ok().and_then(|v| v.get("error").cloned());
        let Some(error) = envelope.filter(|e| e["code"].is_string()) else {
            return Err(unexpected(url, status, &text));
        };
        let hint = if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
            "; no token was given: set HOOKGATE_TOKEN or --token"
        } else {
            ""
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            code: field(&error, "code"),
            message: field(&error, "message"),
            request_id: error["request_id"]
                .as_str()
                .map(str::to_owned)
                .or(header_request_id)
                .unwrap_or_else(|| "-".to_owned()),
            hint,
        })
    }
}

fn field(error: &Value, name: &str) -> String {
    error[name].as_str().unwrap_or_default().to_owned()
}

fn unexpected(url: &Url, status: StatusCode, text: &str) -> ClientError {
    const SHOWN: usize = 200;
    let mut body: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        body.push('…');
    }
    ClientError::Unexpected {
        url: url.to_string(),
        status: status.as_u16(),
        body: body.escape_debug().to_string(),
    }
}

/// `base` with `segments` appended, each percent-encoded as one path segment, so an id
/// typed by the operator can never change which route is called. Empty, `.` and `..`
/// segments are refused: URLs resolve them away (even percent-encoded).
pub fn join(base: &Url, segments: &[&str]) -> Result<Url, ClientError> {
    if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
        return Err(ClientError::BadSegment((*bad).to_owned()));
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: &str, segments: &[&str]) -> String {
        join(&Url::parse(base).unwrap(), segments)
            .unwrap()
            .to_string()
    }

    #[test]
    fn paths_join_the_base_with_or_without_trailing_slash_and_under_a_prefix() {
        assert_eq!(
            url("http://127.0.0.1:8080", &["v1", "orgs"]),
            "http://127.0.0.1:8080/v1/orgs"
        );
        assert_eq!(
            url("http://h:1/", &["v1", "sources", "src_1"]),
            "http://h:1/v1/sources/src_1"
        );
        assert_eq!(
            url("https://gw.example/hookgate/", &["v1", "orgs"]),
            "https://gw.example/hookgate/v1/orgs"
        );
    }

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(
            url("http://h", &["v1", "sources", "../orgs?x=1#y"]),
            "http://h/v1/sources/..%2Forgs%3Fx=1%23y"
        );
        let base = Url::parse("http://h").unwrap();
        for bad in ["", ".", ".."] {
            assert!(
                matches!(
                    join(&base, &["v1", "sources", bad]),
                    Err(ClientError::BadSegment(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn api_error_names_code_message_status_and_request_id() {
        let error = ClientError::Api {
            status: 401,
            code: "unauthenticated".into(),
            message: "missing or unknown bearer token".into(),
            request_id: "req_1".into(),
            hint: "",
        };
        assert_eq!(
            error.to_string(),
            "unauthenticated: missing or unknown bearer token (HTTP 401, request id req_1)"
        );
    }
}
