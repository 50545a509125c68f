//! Execution hooks (SPEC §6): endpoints, run events, deliveries and their attempts.

use super::OrgSlug;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// A product backend's URL that receives run events.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub org: OrgSlug,
    pub url: String,
    pub description: String,
    /// Event types delivered; empty = all.
    pub event_types: Vec<String>,
    /// Workflows whose events are delivered; empty = all.
    pub workflow_ids: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled by hookgate (`gone`, `failing`), if it was.
    pub disabled_reason: Option<String>,
    pub timeout_ms: u32,
    pub rate_limit_per_s: Option<u32>,
    /// This endpoint's own retry schedule (same syntax as HOOKGATE_RETRY_SCHEDULE).
    pub retry_schedule: Option<String>,
    /// Start of the current run of failures; cleared by a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    pub fn subscribes(&self, event_type: &str, workflow_id: Option<&str>) -> bool {
        let type_ok =
            self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type);
        let workflow_ok = self.workflow_ids.is_empty()
            || workflow_id.is_some_and(|w| self.workflow_ids.iter().any(|id| id == w));
        type_ok && workflow_ok
    }
}

/// A run event from the scheduler (or hookgate's own `endpoint.disabled`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    pub id: String,
    pub org: OrgSlug,
    pub event_type: String,
    pub run_id: Option<String>,
    pub workflow_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub received_at: DateTime<Utc>,
    /// W3C trace context it arrived with (a child span of the sender's), continued by
    /// its deliveries.
    pub traceparent: Option<String>,
}

/// One run event for [`DeliveryStore::record_run_events`](crate::store::DeliveryStore::record_run_events).
#[derive(Debug, Clone, PartialEq)]
pub struct RunEventWrite {
    pub event: RunEvent,
    /// An endpoint's test event: delivered to that endpoint alone, whatever its filters.
    pub only_endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRunEvent {
    /// False when the event id was already recorded (idempotent replay).
    pub new: bool,
    pub deliveries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Retries exhausted or endpoint disabled; can be retried by hand.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub org: OrgSlug,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// When the latest attempt started; none before the first.
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Delivery {
    /// A delivery of `event` to `endpoint_id` as the fan-out writes it: pending, due
    /// when the event was received, not yet tried.
    pub fn new_pending(id: &str, event: &RunEvent, endpoint_id: &str) -> Self {
        Self {
            id: id.to_owned(),
            org: event.org.clone(),
            endpoint_id: endpoint_id.to_owned(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(event.received_at),
            last_status: None,
            last_error: None,
            last_attempt_at: None,
            created_at: event.received_at,
            updated_at: event.received_at,
        }
    }
}

/// One attempt as logged (SPEC §6).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub delivery_id: String,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub request_url: String,
    pub request_headers: Vec<(String, String)>,
    pub response_status: Option<u16>,
    pub response_headers: Option<Vec<(String, String)>>,
    /// First 4 KiB of the response body.
    pub response_body: Option<Bytes>,
    pub error_class: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A delivery due now, with what sending it needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub event: RunEvent,
    pub endpoint: Endpoint,
}

/// How much a delivery worker can take in one claim. Capping each endpoint at the
/// attempts it can start now means a claimed delivery rarely has to be put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLimits {
    pub total: usize,
    /// The most of any one endpoint's deliveries, unless `room` says less.
    pub per_endpoint: usize,
    /// Endpoints with less room than `per_endpoint` now (attempts in flight, circuit
    /// open), with the room they have; 0 claims none of theirs.
    pub room: Vec<(String, usize)>,
}

impl ClaimLimits {
    /// `total` deliveries, however many of them belong to one endpoint.
    pub fn total(total: usize) -> Self {
        Self {
            total,
            per_endpoint: total,
            room: Vec::new(),
        }
    }
}

/// Deliveries a run-event batch may write already claimed for this instance's delivery
/// workers (they have room to start them now), so those need no claim of their own.
#[derive(Debug, Clone)]
pub struct HandOff {
    pub limits: ClaimLimits,
    pub lease_until: DateTime<Utc>,
}

impl HandOff {
    /// Which of the new deliveries, in the order given by their endpoints, are claimed:
    /// at most `limits.total`, and per endpoint at most its room.
    pub fn admit<'a>(&self, endpoints: impl IntoIterator<Item = &'a str>) -> Vec<bool> {
        let mut left_total = self.limits.total;
        let mut taken: HashMap<&str, usize> = HashMap::new();
        endpoints
            .into_iter()
            .map(|endpoint| {
                let room = self
                    .limits
                    .room
                    .iter()
                    .find(|(id, _)| id == endpoint)
                    .map_or(self.limits.per_endpoint, |(_, room)| *room);
                let count = taken.entry(endpoint).or_insert(0);
                let admitted = left_total > 0 && *count < room;
                if admitted {
                    left_total -= 1;
                    *count += 1;
                }
                admitted
            })
            .collect()
    }
}

/// What [`DeliveryStore::record_and_claim_run_events`](crate::store::DeliveryStore::record_and_claim_run_events)
/// answers: one outcome per event of the batch, and the new deliveries written claimed.
#[derive(Debug, Clone, Default)]
pub struct RecordedRunEvents {
    pub events: Vec<RecordedRunEvent>,
    pub claimed: Vec<DueDelivery>,
}

/// The outcome of one attempt, written with the attempt.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: Attempt,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Whether the endpoint answered successfully (clears `failing_since`) or not
    /// (starts it).
    pub endpoint_ok: bool,
}

/// What a batch of attempts does to an endpoint's `failing_since`: the same as
/// applying them one by one (a success clears it, a failure starts it if unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointHealth {
    /// No success in the batch: keep the stored start, or start it at this failure.
    FailingSinceOr(DateTime<Utc>),
    /// A success in the batch: failing since the first failure after the last
    /// success, or not failing.
    Recovered(Option<DateTime<Utc>>),
}

/// Each endpoint's [`EndpointHealth`] after `attempts` (endpoint id, success, start),
/// in the order given; sorted by endpoint id so concurrent writers lock rows in one
/// order.
pub fn endpoint_health<'a>(
    attempts: impl IntoIterator<Item = (&'a str, bool, DateTime<Utc>)>,
) -> Vec<(&'a str, EndpointHealth)> {
    let mut health: BTreeMap<&'a str, EndpointHealth> = BTreeMap::new();
    for (endpoint, ok, at) in attempts {
        let next = match (health.get(endpoint).copied(), ok) {
            (_, true) => EndpointHealth::Recovered(None),
            (None, false) => EndpointHealth::FailingSinceOr(at),
            (Some(EndpointHealth::Recovered(None)), false) => EndpointHealth::Recovered(Some(at)),
            (Some(unchanged), false) => unchanged,
        };
        health.insert(endpoint, next);
    }
    health.into_iter().collect()
}

/// Which deliveries a list or a bulk retry covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// With `Pending`: only those tried already (`Some(true)`, shown as `retrying`) or
    /// not yet (`Some(false)`).
    pub tried: Option<bool>,
    pub event_type: Option<String>,
    /// Only deliveries created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only deliveries whose endpoint is enabled (`Some(true)`) or disabled. Set by
    /// lists; the retry routes leave it unset.
    pub endpoint_enabled: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(second), 0).unwrap_or_default()
    }

    #[test]
    fn a_hand_off_admits_within_the_total_and_each_endpoints_room() {
        type Case<'a> = (
            usize,
            usize,
            &'a [(&'a str, usize)],
            &'a [&'a str],
            &'a [bool],
        );
        let cases: &[Case] = &[
            (4, 2, &[], &[], &[]),
            (4, 2, &[], &["a", "a", "a", "b"], &[true, true, false, true]),
            (2, 9, &[], &["a", "b", "c"], &[true, true, false]),
            (9, 9, &[("a", 0)], &["a", "b", "a"], &[false, true, false]),
            (
                9,
                2,
                &[("b", 1)],
                &["b", "a", "b", "a"],
                &[true, true, false, true],
            ),
            (0, 9, &[], &["a"], &[false]),
        ];
        for (total, per_endpoint, room, endpoints, expect) in cases {
            let hand_off = HandOff {
                limits: ClaimLimits {
                    total: *total,
                    per_endpoint: *per_endpoint,
                    room: room.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect(),
                },
                lease_until: at(0),
            };
            let got = hand_off.admit(endpoints.iter().copied());
            assert_eq!(
                got,
                expect.to_vec(),
                "{total} {per_endpoint} {room:?} {endpoints:?}"
            );
        }
    }

    #[test]
    fn endpoint_health_of_a_batch_equals_applying_its_attempts_in_order() {
        type Case<'a> = (&'a [(&'a str, bool, u32)], &'a [(&'a str, EndpointHealth)]);
        let cases: &[Case] = &[
            (&[], &[]),
            (
                &[("a", false, 1), ("a", false, 2)],
                &[("a", EndpointHealth::FailingSinceOr(at(1)))],
            ),
            (
                &[("a", false, 1), ("a", true, 2)],
                &[("a", EndpointHealth::Recovered(None))],
            ),
            (
                &[("a", true, 1), ("a", false, 2), ("a", false, 3)],
                &[("a", EndpointHealth::Recovered(Some(at(2))))],
            ),
            (
                &[
                    ("b", true, 1),
                    ("a", false, 2),
                    ("b", false, 3),
                    ("b", true, 4),
                ],
                &[
                    ("a", EndpointHealth::FailingSinceOr(at(2))),
                    ("b", EndpointHealth::Recovered(None)),
                ],
            ),
        ];
        for (attempts, expect) in cases {
            let got = endpoint_health(attempts.iter().map(|(e, ok, s)| (*e, *ok, at(*s))));
            assert_eq!(got, expect.to_vec(), "{attempts:?}");
        }
    }
}
