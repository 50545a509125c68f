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
