//! When to try again: the configured retry schedule (SPEC §6) with ±20% jitter, and the
//! receiver's `Retry-After` (RFC 9110 §10.2.3), which may lengthen a wait but never
//! shorten it.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// The longest wait a receiver's `Retry-After` can impose; past it the schedule resumes
/// its own pace, so one receiver cannot park a delivery for days.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60 * 60);

/// A retry schedule: comma-separated delays between attempts, e.g. `0s,5s,5m`.
pub fn parse_schedule(value: &str) -> Result<Vec<Duration>, String> {
    let steps: Vec<Duration> = value
        .split(',')
        .map(crate::duration::parse)
        .collect::<Result<_, _>>()?;
    if steps.is_empty() {
        return Err("the schedule needs at least one step".into());
    }
    Ok(steps)
}

/// Delays before each attempt; step 1 is the first attempt (normally `0s`, immediately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    steps: Vec<Duration>,
}

impl RetrySchedule {
    pub fn new(steps: Vec<Duration>) -> Self {
        Self { steps }
    }

    /// Number of attempts the schedule allows in all.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.steps.len()).unwrap_or(u32::MAX)
    }

    /// The delay before attempt number `attempt` (1-based), spread by `jitter` in [0, 1)
    /// to ±20%; zero stays zero. `None` when the schedule has no such attempt.
    pub fn delay_before(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let step = self.steps.get(index)?;
        Some(step.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)))
    }
}

/// The wait before the next attempt when the receiver sent `Retry-After`: its value,
/// capped at [`RETRY_AFTER_CAP`], but never shorter than the scheduled delay.
pub fn with_retry_after(scheduled: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(requested) => requested.min(RETRY_AFTER_CAP).max(scheduled),
        None => scheduled,
    }
}

/// A `Retry-After` value as a wait from `now`: delta-seconds or an HTTP-date (a date in
/// the past means "now"). `None` when it is neither.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still a (very long) wait; the cap applies later.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date: DateTime<Utc> = httpdate::parse_http_date(value)
        .ok()
        .map(|at: SystemTime| at.into())?;
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn default_schedule() -> RetrySchedule {
        let h = 3600;
        RetrySchedule::new(
            [0, 5, 300, 1800, 2 * h, 5 * h, 10 * h, 10 * h]
                .map(secs)
                .to_vec(),
        )
    }

    #[test]
    fn attempts_follow_the_schedule_and_end_with_it() {
        let schedule = default_schedule();
        let check = |attempt: u32, expect: Option<u64>| {
            assert_eq!(
                schedule.delay_before(attempt, 0.5),
                expect.map(secs),
                "attempt {attempt}"
            );
        };
        check(0, None);
        check(1, Some(0));
        check(2, Some(5));
        check(3, Some(300));
        check(5, Some(7200));
        check(8, Some(36000));
        check(9, None);
        check(u32::MAX, None);
        assert_eq!(schedule.attempts(), 8);
    }

    #[test]
    fn jitter_spreads_twenty_percent_either_way_and_zero_stays_zero() {
        let schedule = default_schedule();
        let check = |attempt: u32, jitter: f64, expect: Duration| {
            assert_eq!(
                schedule.delay_before(attempt, jitter),
                Some(expect),
                "attempt {attempt} jitter {jitter}"
            );
        };
        check(1, 0.0, Duration::ZERO);
        check(1, 0.99, Duration::ZERO);
        check(2, 0.0, secs(4));
        check(2, 1.0, secs(6));
        check(3, 0.25, secs(270));
        // Out-of-range jitter is clamped rather than trusted.
        check(2, -3.0, secs(4));
        check(2, 7.0, secs(6));
    }

    #[test]
    fn retry_after_lengthens_up_to_the_cap_but_never_shortens() {
        let check = |scheduled: u64, retry_after: Option<u64>, expect: u64| {
            assert_eq!(
                with_retry_after(secs(scheduled), retry_after.map(secs)),
                secs(expect),
                "scheduled {scheduled} retry-after {retry_after:?}"
            );
        };
        check(5, None, 5);
        check(5, Some(120), 120);
        check(5, Some(3600), 3600);
        check(5, Some(3601), 3600);
        check(5, Some(u64::MAX), 3600);
        check(300, Some(10), 300);
        check(36000, Some(1800), 36000);
        check(0, Some(0), 0);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        let check = |value: &str, expect: Option<u64>| {
            assert_eq!(retry_after(value, now), expect.map(secs), "{value:?}");
        };
        check("120", Some(120));
        check("0", Some(0));
        check(" 30 ", Some(30));
        check("99999999999999999999999", Some(u64::MAX));
        // IMF-fixdate, and the two obsolete formats RFC 9110 still requires us to read.
        check("Wed, 21 Oct 2015 07:30:00 GMT", Some(120));
        check("Wednesday, 21-Oct-15 07:30:00 GMT", Some(120));
        check("Wed Oct 21 07:30:00 2015", Some(120));
        check("Wed, 21 Oct 2015 07:28:00 GMT", Some(0));
        check("Wed, 21 Oct 2015 07:00:00 GMT", Some(0));
        for garbled in [
            "",
            "-5",
            "1.5",
            "+10",
            "soon",
            "Wed, 21 Oct 2015 07:30:00 UTC",
            "2015-10-21T07:30:00Z",
        ] {
            check(garbled, None);
        }
    }

    #[test]
    fn default_schedule_parses_to_eight_steps() {
        let steps = parse_schedule("0s,5s,5m,30m,2h,5h,10h,10h").unwrap();
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[3], Duration::from_secs(1800));
        assert!(parse_schedule("5s,,5m").is_err());
    }
}
