//! What one attempt achieved, and what to do next. Pure: the decision is a function of
//! the outcome, the attempt number, the schedule and a jitter sample.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::schedule::{retry_after, with_retry_after, RetrySchedule};
use super::ssrf::{Blocked, Unresolved};

/// Why an attempt failed (SPEC §6), as logged and as the `class` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    Timeout,
    Connect,
    Dns,
    Tls,
    /// Refused by the SSRF guard; nothing was sent.
    Blocked,
    /// The receiver answered, with a status that is not success.
    Status,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Blocked => "blocked",
            Self::Status => "http_status",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered { status: u16 },
    Failed {
        class: ErrorClass,
        status: Option<u16>,
        /// Only from a 429 or 503 answer.
        retry_after: Option<Duration>,
    },
    /// 410: the receiver says the endpoint is gone for good.
    Gone,
}

impl AttemptOutcome {
    /// The outcome of an answer. Redirects are not followed, so a 3xx is a failure like
    /// any other non-2xx; `Retry-After` counts only on 429 and 503.
    pub fn from_status(status: u16, retry_after_header: Option<&str>, now: DateTime<Utc>) -> Self {
        match status {
            200..=299 => Self::Delivered { status },
            410 => Self::Gone,
            _ => Self::Failed {
                class: ErrorClass::Status,
                status: Some(status),
                retry_after: matches!(status, 429 | 503)
                    .then(|| retry_after_header.and_then(|value| retry_after(value, now)))
                    .flatten(),
            },
        }
    }

    /// The outcome of an attempt that got no answer.
    pub fn from_error(class: ErrorClass) -> Self {
        Self::Failed {
            class,
            status: None,
            retry_after: None,
        }
    }
}

/// What the delivery does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    RetryIn(Duration),
    /// The schedule is exhausted; the delivery stays replayable.
    GiveUp,
    /// 410 Gone: stop this delivery and disable the endpoint.
    DisableEndpoint,
}

/// The next step after attempt number `attempt` (1-based) ended with `outcome`.
pub fn decide(
    outcome: AttemptOutcome,
    attempt: u32,
    schedule: &RetrySchedule,
    jitter: f64,
) -> Decision {
    match outcome {
        AttemptOutcome::Delivered { .. } => Decision::Delivered,
        AttemptOutcome::Gone => Decision::DisableEndpoint,
        AttemptOutcome::Failed { retry_after, .. } => {
            match schedule.delay_before(attempt.saturating_add(1), jitter) {
                Some(scheduled) => Decision::RetryIn(with_retry_after(scheduled, retry_after)),
                None => Decision::GiveUp,
            }
        }
    }
}

/// The class of a failed request, from its source chain: our resolver's own errors
/// first (they say exactly what happened), then TLS, then timeouts; anything else
/// (refused, reset, protocol errors) is `connect`.
pub fn classify_error(error: &reqwest::Error) -> ErrorClass {
    let causes: Vec<&(dyn StdError + 'static)> = causes(error).collect();
    let any = |found: fn(&(dyn StdError + 'static)) -> bool| causes.iter().any(|e| found(*e));
    if any(|e| e.is::<Blocked>()) {
        ErrorClass::Blocked
    } else if any(|e| e.is::<Unresolved>()) {
        ErrorClass::Dns
    } else if any(|e| e.is::<rustls::Error>()) {
        ErrorClass::Tls
    } else if error.is_timeout() || any(|e| is_io_kind(e, io::ErrorKind::TimedOut)) {
        ErrorClass::Timeout
    } else {
        ErrorClass::Connect
    }
}

/// `error` and its sources. `io::Error::source()` skips the error it wraps (it returns
/// the wrapped error's source), so an `io::Error` is followed through `get_ref()`.
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| next_cause(e))
}

fn next_cause<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match error.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => error.source(),
    }
}

fn is_io_kind(error: &(dyn StdError + 'static), kind: io::ErrorKind) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|io| io.kind() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn now() -> DateTime<Utc> {
        "2015-10-21T07:28:00Z".parse().unwrap()
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let check = |status: u16, retry_after: Option<&str>, expect: AttemptOutcome| {
            assert_eq!(
                AttemptOutcome::from_status(status, retry_after, now()),
                expect,
                "{status} {retry_after:?}"
            );
        };
        let failed = |status: u16, retry_after: Option<u64>| AttemptOutcome::Failed {
            class: ErrorClass::Status,
            status: Some(status),
            retry_after: retry_after.map(secs),
        };
        check(200, None, AttemptOutcome::Delivered { status: 200 });
        check(204, Some("60"), AttemptOutcome::Delivered { status: 204 });
        check(299, None, AttemptOutcome::Delivered { status: 299 });
        check(410, Some("60"), AttemptOutcome::Gone);
        check(429, Some("60"), failed(429, Some(60)));
        check(
            503,
            Some("Wed, 21 Oct 2015 07:30:00 GMT"),
            failed(503, Some(120)),
        );
        check(503, Some("soon"), failed(503, None));
        check(429, None, failed(429, None));
        // Retry-After on any other status is not a promise we act on.
        check(500, Some("60"), failed(500, None));
        check(502, Some("60"), failed(502, None));
        // Redirects are not followed: the 3xx itself is the answer.
        check(301, None, failed(301, None));
        check(307, None, failed(307, None));
        check(308, None, failed(308, None));
        check(100, None, failed(100, None));
        check(199, None, failed(199, None));
        check(300, None, failed(300, None));
        check(400, None, failed(400, None));
        check(404, None, failed(404, None));
        check(409, None, failed(409, None));
    }

    #[test]
    fn decisions_follow_outcome_attempt_and_schedule() {
        let schedule = RetrySchedule::new([0, 5, 300, 1800].map(secs).to_vec());
        let check = |outcome: AttemptOutcome, attempt: u32, expect: Decision| {
            assert_eq!(
                decide(outcome, attempt, &schedule, 0.5),
                expect,
                "{outcome:?} after attempt {attempt}"
            );
        };
        let failed = |class: ErrorClass, retry_after: Option<u64>| AttemptOutcome::Failed {
            class,
            status: None,
            retry_after: retry_after.map(secs),
        };
        let delivered = AttemptOutcome::Delivered { status: 200 };
        check(delivered, 1, Decision::Delivered);
        check(delivered, 4, Decision::Delivered);
        check(AttemptOutcome::Gone, 1, Decision::DisableEndpoint);
        check(AttemptOutcome::Gone, 4, Decision::DisableEndpoint);
        check(
            failed(ErrorClass::Timeout, None),
            1,
            Decision::RetryIn(secs(5)),
        );
        check(
            failed(ErrorClass::Connect, None),
            2,
            Decision::RetryIn(secs(300)),
        );
        check(
            failed(ErrorClass::Blocked, None),
            3,
            Decision::RetryIn(secs(1800)),
        );
        check(failed(ErrorClass::Dns, None), 4, Decision::GiveUp);
        check(failed(ErrorClass::Tls, None), u32::MAX, Decision::GiveUp);
        // Retry-After lengthens the wait up to the cap, never shortens it.
        check(
            failed(ErrorClass::Status, Some(60)),
            1,
            Decision::RetryIn(secs(60)),
        );
        check(
            failed(ErrorClass::Status, Some(86400)),
            1,
            Decision::RetryIn(secs(3600)),
        );
        check(
            failed(ErrorClass::Status, Some(1)),
            3,
            Decision::RetryIn(secs(1800)),
        );
        // ...and cannot extend the schedule past its last attempt.
        check(failed(ErrorClass::Status, Some(60)), 4, Decision::GiveUp);
    }

    #[test]
    fn retries_carry_the_schedule_jitter() {
        let schedule = RetrySchedule::new([0, 5].map(secs).to_vec());
        let failed = AttemptOutcome::from_error(ErrorClass::Connect);
        assert_eq!(
            decide(failed, 1, &schedule, 0.0),
            Decision::RetryIn(secs(4))
        );
        assert_eq!(
            decide(failed, 1, &schedule, 1.0),
            Decision::RetryIn(secs(6))
        );
    }

    #[test]
    fn classes_have_stable_labels() {
        let check = |class: ErrorClass, label: &str| assert_eq!(class.as_str(), label);
        check(ErrorClass::Timeout, "timeout");
        check(ErrorClass::Connect, "connect");
        check(ErrorClass::Dns, "dns");
        check(ErrorClass::Tls, "tls");
        check(ErrorClass::Blocked, "blocked");
        check(ErrorClass::Status, "http_status");
    }

    #[test]
    fn causes_are_followed_through_io_errors() {
        let blocked = Blocked {
            host: "localhost".to_owned(),
        };
        let wrapped = io::Error::other(blocked.clone());
        let found: Vec<String> = causes(&wrapped).map(|e| e.to_string()).collect();
        assert_eq!(found, [wrapped.to_string(), blocked.to_string()]);
        assert!(causes(&wrapped).any(|e| e.is::<Blocked>()));
    }
}
