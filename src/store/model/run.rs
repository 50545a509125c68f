//! Runs, their outbox rows and the trigger API's idempotency.

use super::OrgSlug;
use bytes::Bytes;
use chrono::{DateTime, Utc};

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
    /// Its input, kept for a retry when nothing else keeps it (API-triggered runs and
    /// retries; a webhook run's input is its event's body).
    pub input: Option<Bytes>,
    /// The run this one retries.
    pub retry_of: Option<String>,
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

    /// The run status a scheduler event type moves a run to, if any.
    /// Completed, failed or cancelled: nothing more happens to the run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn after_event(event_type: &str) -> Option<Self> {
        match event_type {
            "run.started" | "run.running" => Some(RunStatus::Running),
            "run.completed" | "run.succeeded" => Some(RunStatus::Completed),
            "run.failed" => Some(RunStatus::Failed),
            "run.cancelled" | "run.canceled" => Some(RunStatus::Cancelled),
            _ => None,
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
    /// When someone asked to cancel it (the run is `cancelled` once the scheduler says).
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// The run this one retries.
    pub retry_of: Option<String>,
}

/// A cancel request's message, for the outbox (SPEC §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub run_id: String,
    /// `<run_id>.cancel`: the outbox key and the AMQP `message_id`.
    pub message_id: String,
    pub workflow_id: String,
    pub message: Bytes,
    pub message_headers: Vec<(String, String)>,
    pub requested_at: DateTime<Utc>,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// Asked now: its message is in the outbox.
    Requested(Run),
    /// Asked before: nothing new.
    AlreadyRequested(Run),
    /// Completed, failed or cancelled already: nothing to do.
    Ended(Run),
    NotFound,
}

/// A run claimed from the outbox for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub run_id: String,
    pub workflow_id: String,
    pub message: Bytes,
    pub message_headers: Vec<(String, String)>,
    pub enqueued_at: DateTime<Utc>,
}

/// How far behind publishing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxStats {
    pub backlog: u64,
    pub oldest_enqueued_at: Option<DateTime<Utc>>,
}

/// An `Idempotency-Key` with a hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub body_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerOutcome {
    Created,
    /// Same key, same body: the run created the first time.
    Replayed(Box<Run>),
    /// Same key, another body.
    KeyReused,
}

/// `GET /orgs/{org}/runs` filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub workflow_id: Option<String>,
}
