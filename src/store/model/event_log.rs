//! The ingress event log as read back (SPEC §11): what a source received, what it
//! became, and where it went.

use super::{EventDisposition, OrgSlug};
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// One recorded inbound event, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressEvent {
    pub id: String,
    pub org: OrgSlug,
    pub source_id: String,
    pub received_at: DateTime<Utc>,
    pub status: EventDisposition,
    pub event_name: Option<String>,
    pub dedup_key: Option<String>,
    /// The secret that verified it.
    pub secret_id: String,
    /// The run it started (accepted events only).
    pub run_id: Option<String>,
    /// Later requests with the same de-dup key, answered as duplicates of this one.
    pub duplicates: u32,
    pub last_duplicate_at: Option<DateTime<Utc>>,
    pub body_bytes: u64,
    /// The body is past the payload retention and no longer kept.
    pub body_expired: bool,
}

/// An event with what it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressEventRecord {
    pub event: IngressEvent,
    /// Kept headers (credentials dropped, signatures redacted).
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// `None` once expired.
    pub body: Option<Bytes>,
}

/// Which events a list shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct IngressEventFilter {
    pub source_id: Option<String>,
    pub status: Option<EventDisposition>,
    /// The sender's delivery id (`X-GitHub-Delivery`, Stripe's `evt_…`, `webhook-id`).
    pub dedup_key: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
}

/// A run event in a lineage: what the scheduler reported, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEventSummary {
    pub id: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
}
