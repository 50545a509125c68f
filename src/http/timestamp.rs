//! Timestamps in API answers: RFC 3339 in UTC with `Z` and exactly six fraction
//! digits, in both modes. PostgreSQL keeps microseconds while SQLite and the clock keep
//! nanoseconds, and chrono's own format drops trailing zero digits; a fixed form lets a
//! client compare and sort the strings as they come.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `2026-12-06T13:30:19.123456Z`
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn micros<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(at))
}

pub fn micros_or_null<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => micros(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn always_six_fraction_digits_in_utc() {
        let cases = [
            (0, "2026-12-06T13:30:19.000000Z"),
            (123_000_000, "2026-12-06T13:30:19.123000Z"),
            (123_456_789, "2026-12-06T13:30:19.123456Z"),
            (999_999_999, "2026-12-06T13:30:19.999999Z"),
        ];
        for (nanos, expected) in cases {
            let at = Utc
                .with_ymd_and_hms(2026, 12, 6, 13, 30, 19)
                .single()
                .map(|t| t + chrono::Duration::nanoseconds(nanos));
            assert_eq!(at.map(|t| format(&t)).as_deref(), Some(expected), "{nanos}");
        }
    }
}
