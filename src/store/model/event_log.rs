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

/// One event of a run's timeline (SPEC §12).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    /// 1, 2, … per run, in the order hookgate recorded the run's events.
    pub seq: u32,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// Runs whose timelines moved: these (org, run) pairs, or any run at all (after a
/// listener reconnects, or when the pairs did not fit one notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunWake {
    Runs(Vec<(String, String)>),
    All,
}

impl RunWake {
    pub fn touches(&self, org: &str, run_id: &str) -> bool {
        match self {
            RunWake::All => true,
            RunWake::Runs(runs) => runs.iter().any(|(o, r)| o == org && r == run_id),
        }
    }

    /// A NOTIFY payload (`org/run` pairs, space-separated; empty = every run).
    pub fn parse(payload: &str) -> Self {
        let runs: Vec<(String, String)> = payload
            .split_whitespace()
            .filter_map(|pair| pair.split_once('/'))
            .map(|(org, run)| (org.to_owned(), run.to_owned()))
            .collect();
        if runs.is_empty() {
            RunWake::All
        } else {
            RunWake::Runs(runs)
        }
    }
}

/// Told of every [`RunWake`] a store's listener hears.
pub type RunWakeFn = std::sync::Arc<dyn Fn(RunWake) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::RunWake;

    #[test]
    fn a_notification_names_the_runs_it_moved_or_every_run() {
        let cases = [
            (
                "acme/run_1 acme/run_2",
                vec![("acme", "run_1", true), ("acme", "run_3", false)],
            ),
            (
                "globex/run_1",
                vec![("acme", "run_1", false), ("globex", "run_1", true)],
            ),
            ("", vec![("acme", "run_9", true)]),
            ("garbage", vec![("acme", "run_9", true)]),
        ];
        for (payload, checks) in cases {
            let wake = RunWake::parse(payload);
            for (org, run, touched) in checks {
                assert_eq!(wake.touches(org, run), touched, "{payload:?} {org}/{run}");
            }
        }
    }
}
