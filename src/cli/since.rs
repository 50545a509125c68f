//! `--since`: an RFC 3339 time, or a duration ago (`2h` = now minus two hours).
//!
//! Parsed without a clock (so clap refuses a bad value before any request), then
//! resolved against the one `now` a command reads. Pure.

use crate::duration;
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    At(DateTime<Utc>),
    Ago(Duration),
}

const EXPECTED: &str =
    "expected an RFC 3339 time (2024-05-01T12:00:00Z) or a duration ago (30m, 2h, 7d)";

impl Since {
    /// The clap value parser of `--since`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(value) {
            return Ok(Self::At(at.with_timezone(&Utc)));
        }
        // A bare number could be seconds or a Unix time: refuse to guess.
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{value}` lacks a unit; {EXPECTED}"));
        }
        duration::parse(value)
            .map(Self::Ago)
            .map_err(|e| format!("{e}; {EXPECTED}"))
    }

    /// The time meant, with `now` for "ago". A duration reaching before the Unix epoch
    /// saturates there: hookgate holds nothing older, so it means "everything".
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::At(at) => at,
            Self::Ago(ago) => chrono::Duration::from_std(ago)
                .ok()
                .and_then(|ago| now.checked_sub_signed(ago))
                .filter(|at| *at > DateTime::UNIX_EPOCH)
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

/// The wire form of a time in a request body (UTC, `Z`, only the digits needed).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn since_resolves_times_as_given_and_durations_as_now_minus_them() {
        let now = at("2024-05-01T12:00:00Z");
        let check = |value: &str, expect: &str| {
            let since = Since::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(rfc3339(since.resolve(now)), expect, "{value}");
        };
        check("2h", "2024-05-01T10:00:00Z");
        check("30m", "2024-05-01T11:30:00Z");
        check("7d", "2024-04-24T12:00:00Z");
        check("1500ms", "2024-05-01T11:59:58.500Z");
        check("0s", "2024-05-01T12:00:00Z");
        check(" 2h ", "2024-05-01T10:00:00Z");
        check("2024-04-30T08:00:00Z", "2024-04-30T08:00:00Z");
        check("2024-04-30T10:00:00+02:00", "2024-04-30T08:00:00Z");
        check("2024-04-30T08:00:00.25Z", "2024-04-30T08:00:00.250Z");
        check("2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    }

    #[test]
    fn durations_reaching_before_the_epoch_mean_everything() {
        let now = at("2024-05-01T12:00:00Z");
        let since = Since::parse("99999999d").unwrap();
        assert_eq!(since.resolve(now), DateTime::UNIX_EPOCH);
        assert_eq!(Since::Ago(Duration::MAX).resolve(now), DateTime::UNIX_EPOCH);
    }

    #[test]
    fn bare_numbers_partial_dates_and_unknown_units_are_refused() {
        for bad in ["7200", "", "2h ago", "yesterday", "2024-05-01", "5y", "-2h"] {
            let error = Since::parse(bad).expect_err(bad);
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
    }
}
