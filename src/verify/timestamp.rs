//! Unix-seconds timestamps as senders send them, and the replay window.

/// Parses 1–18 ASCII digits. No sign, no spaces, no fraction, no exponent: every sender
/// sends plain integer seconds, and 18 digits cannot overflow `i64`.
pub(crate) fn parse_unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 {
        return None;
    }
    text.bytes().try_fold(0i64, |value, b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC, whole seconds: Zendesk's
/// `X-Zendesk-Webhook-Signature-Timestamp`) into Unix seconds. Nothing else: no offset,
/// no fraction, no lower-case `t`/`z`, no leap second, a real calendar date.
pub(crate) fn parse_utc_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        b.get(range)?.iter().try_fold(0i64, |value, digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + i64::from(digit - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// [`parse_utc_seconds`] that also takes a fraction of a second (1 to 9 digits) before
/// the `Z`, dropped: SNS's `Timestamp` is `2012-04-26T20:45:04.751Z`.
pub(crate) fn parse_utc_fraction_seconds(text: &str) -> Option<i64> {
    let Some((whole, fraction)) = text.split_once('.') else {
        return parse_utc_seconds(text);
    };
    let digits = fraction.strip_suffix('Z')?;
    let valid = (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid || whole.len() != 19 {
        return None;
    }
    let mut seconds = String::with_capacity(20);
    seconds.push_str(whole);
    seconds.push('Z');
    parse_utc_seconds(&seconds)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `within`, refusing with how far off the timestamp is.
pub(crate) fn check_window(
    signed_at: i64,
    now: i64,
    past_s: u64,
    future_s: Option<u64>,
) -> Result<(), super::Rejection> {
    if within(signed_at, now, past_s, future_s) {
        return Ok(());
    }
    let age = i128::from(now) - i128::from(signed_at);
    Err(super::Rejection::TimestampOutOfTolerance {
        age_s: i64::try_from(age).unwrap_or(if age < 0 { i64::MIN } else { i64::MAX }),
        tolerance_s: past_s,
    })
}

/// Whether `signed_at` is at most `past_s` seconds before `now` and at most `future_s`
/// seconds after it (`None` = unbounded). Both bounds are inclusive, as in every library.
pub(crate) fn within(signed_at: i64, now: i64, past_s: u64, future_s: Option<u64>) -> bool {
    // i128: neither operand comes from a trusted place, and the difference must not wrap.
    let age = i128::from(now) - i128::from(signed_at);
    let too_old = age > i128::from(past_s);
    let too_new = future_s.is_some_and(|f| -age > i128::from(f));
    !too_old && !too_new
}

/// Longest `tolerance_s` a scheme with a configurable window accepts: a day; anything
/// longer is a replay window, not skew.
pub(crate) const MAX_TOLERANCE_S: u64 = 86_400;

/// A configured `tolerance_s`: 1 to [`MAX_TOLERANCE_S`] seconds (0 would refuse every
/// request, or, as some libraries read it, turn the check off).
pub(crate) fn check_tolerance(tolerance_s: u64) -> Result<(), super::ConfigError> {
    if tolerance_s == 0 || tolerance_s > MAX_TOLERANCE_S {
        return Err(super::ConfigError::new("tolerance_s", "must be 1..=86400"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_seconds_with_a_fraction_drop_it_and_refuse_other_spellings() {
        let at = parse_utc_seconds("2012-04-26T20:45:04Z");
        for text in [
            "2012-04-26T20:45:04.751Z",
            "2012-04-26T20:45:04.7Z",
            "2012-04-26T20:45:04.123456789Z",
            "2012-04-26T20:45:04Z",
        ] {
            assert_eq!(parse_utc_fraction_seconds(text), at, "{text}");
        }
        for text in [
            "2012-04-26T20:45:04.Z",
            "2012-04-26T20:45:04.1234567890Z",
            "2012-04-26T20:45:04.75",
            "2012-04-26T20:45:04.7a1Z",
            "2012-04-26T20:45:04,751Z",
            "2012-04-26T20:45.04.751Z",
            "2012-04-26T20:45:04.751+00:00",
        ] {
            assert_eq!(parse_utc_fraction_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn utc_seconds_agree_with_chrono_and_refuse_every_other_spelling() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2021-03-25T05:09:27Z",
            "2000-02-29T23:59:59Z",
            "1900-03-01T00:00:00Z",
            "2400-02-29T12:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let want = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp();
            assert_eq!(parse_utc_seconds(text), Some(want), "{text}");
        }
        for text in [
            "",
            "2021-03-25T05:09:27",
            "2021-03-25t05:09:27Z",
            "2021-03-25T05:09:27z",
            "2021-03-25T05:09:27+00:00",
            "2021-03-25T05:09:27.5Z",
            "2021-03-25 05:09:27Z",
            "2021-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-00-01T00:00:00Z",
            "2021-04-31T00:00:00Z",
            "2021-03-00T00:00:00Z",
            "2021-03-25T24:00:00Z",
            "2021-03-25T23:60:00Z",
            "2021-03-25T23:59:60Z",
            "+021-03-25T05:09:27Z",
            "2021-03-25T05:09:2 Z",
            "1616649 67",
        ] {
            assert_eq!(parse_utc_seconds(text), None, "{text}");
        }
    }
}
