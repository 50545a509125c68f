use super::{NewRun, OrgSlug, RunStatus};
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
    /// A sender's protocol handshake (GitHub's ping, Slack's URL verification): answered
    /// and recorded, no run.
    Handshake,
}

impl EventDisposition {
    pub const ALL: [Self; 3] = [Self::Accepted, Self::Ignored, Self::Handshake];

    pub fn as_str(self) -> &'static str {
        match self {
            EventDisposition::Accepted => "accepted",
            EventDisposition::Ignored => "ignored",
            EventDisposition::Handshake => "handshake",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
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
    /// The request's headers as kept (credentials dropped, signatures redacted).
    pub headers: serde_json::Value,
    pub body: Bytes,
    pub received_at: DateTime<Utc>,
    /// How long the de-dup key keeps answering "duplicate".
    pub dedup_window: Duration,
}

/// One verified event and, unless filtered out, its run: a row of a group commit.
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub event: NewEvent,
    pub run: Option<NewRun>,
}

/// The secrets whose `last_used_at` a batch moves: each recorded row's secret, at the
/// latest time it was used in the batch.
pub fn last_uses(batch: &[EventWrite], outcomes: &[AcceptOutcome]) -> Vec<(String, DateTime<Utc>)> {
    let mut latest: std::collections::BTreeMap<&str, DateTime<Utc>> = Default::default();
    for (write, outcome) in batch.iter().zip(outcomes) {
        if *outcome == AcceptOutcome::Recorded {
            let at = latest
                .entry(write.event.secret_id.as_str())
                .or_insert(write.event.received_at);
            *at = (*at).max(write.event.received_at);
        }
    }
    latest
        .into_iter()
        .map(|(id, at)| (id.to_owned(), at))
        .collect()
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
    /// Which check failed and by how much (SPEC §11): never a secret, a signature
    /// value or the body.
    pub detail: String,
}
