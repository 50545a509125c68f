//! Recent outcomes per source and per endpoint, in five-minute buckets: what the
//! console's overview shows as "the last hour". Prometheus counts the same outcomes
//! per instance with closed labels; these are per subject, summed across instances.

use super::OrgSlug;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Width of one bucket.
pub const ACTIVITY_BUCKET: TimeDelta = TimeDelta::minutes(5);

/// `count` outcomes of `subject_id` (a source or an endpoint id) in the bucket that
/// starts at `bucket`, as one instance counted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    pub org: OrgSlug,
    pub subject_id: String,
    pub bucket: DateTime<Utc>,
    pub outcome: String,
    pub count: u64,
}

/// A subject's outcomes summed over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityTotal {
    pub subject_id: String,
    pub outcome: String,
    pub count: u64,
}

/// The start of the bucket `at` falls in.
pub fn activity_bucket(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(ACTIVITY_BUCKET).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_five_minute_boundaries() {
        let cases = [
            ("2026-12-06T10:00:00Z", "2026-12-06T10:00:00Z"),
            ("2026-12-06T10:04:59.999Z", "2026-12-06T10:00:00Z"),
            ("2026-12-06T10:05:00Z", "2026-12-06T10:05:00Z"),
            ("2026-12-06T23:59:59Z", "2026-12-06T23:55:00Z"),
        ];
        for (at, start) in cases {
            let at: DateTime<Utc> = at.parse().unwrap();
            let start: DateTime<Utc> = start.parse().unwrap();
            assert_eq!(activity_bucket(at), start, "{at}");
        }
    }
}
