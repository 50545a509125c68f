use super::OrgSlug;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What became of a verified inbound event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventDisposition {
    /// Created a run.
    Accepted,
    /// Filtered out by the source's event filter: recorded, no run.
    Ignored,
}

impl EventDisposition {
    pub fn as_str(self) -> &'static str {
        match self {
            EventDisposition::Accepted => "accepted",
            EventDisposition::Ignored => "ignored",
        }
    }
}

/// A verified inbound event, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub org: OrgSlug,
    pub source_id: String,
    pub dedup_key: Option<String>,
    pub event_name: Option<String>,
    /// The secret that verified it; its `last_used_at` moves.
    pub secret_id: String,
    pub disposition: EventDisposition,
    pub traceparent: String,
    /// Selected sender headers (never signatures or credentials).
    pub headers: serde_json::Value,
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
    /// How long the de-dup key keeps answering "duplicate".
    pub dedup_window: Duration,
}

/// A run to create together with its outbox row (SPEC §4).
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub org: OrgSlug,
    pub workflow_id: String,
    pub trigger_type: &'static str,
    pub source_id: Option<String>,
    pub event_id: Option<String>,
    /// The AMQP message body, built once at acceptance.
    pub message: Bytes,
    /// The AMQP headers (`traceparent`, `hookgate-org`, `hookgate-source`).
    pub message_headers: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Recorded now.
    Recorded,
    /// The de-dup key was seen within its window: nothing recorded.
    Duplicate {
        event_id: String,
        run_id: String,
        run_status: RunStatus,
    },
}

/// Run states (SPEC §4): ours until published, then the scheduler's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Published,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Published => "published",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            RunStatus::Queued,
            RunStatus::Published,
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub org: OrgSlug,
    pub workflow_id: String,
    pub trigger_type: String,
    pub source_id: Option<String>,
    pub event_id: Option<String>,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// One sampled rejection of an inbound request: enough to debug a sender's
/// configuration, never a secret, signature or body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub id: String,
    pub source_id: String,
    pub at: DateTime<Utc>,
    /// The rejection's stable code (e.g. `signature_invalid`).
    pub reason: String,
    /// Names of the request's headers, lower-case, sorted.
    pub headers_present: Vec<String>,
}
