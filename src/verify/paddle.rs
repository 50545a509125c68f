//! Paddle (Billing): `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`,
//! h1 = HMAC-SHA256(the notification destination's secret key, `{ts}:{body}`).
//!
//! Mirrors `paddle-python-sdk` 1.16.1 (`paddle_billing/Notifications/Verifier.py` and
//! `PaddleSignature.py`):
//! - items split on `;`, items without `=` skipped, an item with two `=` refused, keys
//!   taken as sent (nothing trimmed): `ts`, `h1`, and any other key refuses the header;
//! - the window first: refused if `now > ts + tolerance` or `ts - tolerance > now`
//!   (`maximum_variance`, 5 s by default, here `tolerance_s`), then the signature;
//! - the signed timestamp is the integer re-formatted (`f"{int(ts)}"`), and every `h1`
//!   is compared with the lower-case hex digest as a string, any one matching.
//!
//! Choices: `ts` must be plain digits (Python's `int()` also takes a sign, spaces or
//! `_`; Paddle sends none), `ts` twice is refused as ambiguous (the SDK keeps the last),
//! a header without `ts` is malformed (the SDK reads it as 0, too old), and the body's
//! bytes are signed as received (the SDK decodes them as UTF-8 first; Paddle sends
//! JSON). De-dup key: body `event_id`; event name: body `event_type`.

use http::{HeaderMap, HeaderName};
use memchr::memchr;
use serde::{Deserialize, Serialize};

use super::body::{self, Wanted};
use super::error::{ConfigError, Rejection, SignError};
use super::headers::{required, timestamp_then_signature};
use super::mac::{
    any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256, Decimal,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("paddle-signature");

/// The scheme's options: the `verifier` object beside `"type": "paddle"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaddleConfig {
    /// Accepted clock skew either way, in seconds (the SDK's `maximum_variance`).
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
}

impl Default for PaddleConfig {
    fn default() -> Self {
        Self {
            tolerance_s: default_tolerance_s(),
        }
    }
}

/// The SDK's default `maximum_variance`.
fn default_tolerance_s() -> u64 {
    5
}

/// A parsed `Paddle-Signature` value: the timestamp as sent and parsed, and the value
/// the `h1` entries are read from on demand.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PaddleHeader<'a> {
    pub(crate) timestamp: i64,
    timestamp_text: &'a str,
    value: &'a str,
    /// The first `h1` signature, and whether another follows: with one (Paddle sends
    /// one per secret), it is decoded once, not re-read for every secret candidate.
    first_h1: &'a str,
    more_h1: bool,
}

impl<'a> PaddleHeader<'a> {
    /// Every `h1` signature, in order.
    pub(crate) fn h1(&self) -> impl Iterator<Item = &'a str> {
        items(self.value).filter_map(|(key, val)| (key == "h1").then_some(val))
    }
}

/// Why a `Paddle-Signature` value was refused before any MAC was computed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderFault {
    /// No `ts`, `ts` twice or not digits, an item with two `=`, or an unknown key.
    Malformed,
    /// No `h1` entry.
    NoH1,
}

/// The `key=value` items; items without `=` are skipped, as the SDK skips them.
fn items(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(';').filter_map(|item| item.split_once('='))
}

pub(crate) fn parse_header(value: &str) -> Result<PaddleHeader<'_>, HeaderFault> {
    if let Some(one) = timestamp_then_signature(value, "ts=", b';', "h1=") {
        return Ok(PaddleHeader {
            timestamp: one.timestamp,
            timestamp_text: one.digits,
            value,
            first_h1: one.signature,
            more_h1: false,
        });
    }
    parse_items(value)
}

/// The header read item by item, as the SDK reads it ([`parse_header`] gives the same
/// for every value, faster for the common one).
pub(crate) fn parse_items(value: &str) -> Result<PaddleHeader<'_>, HeaderFault> {
    let mut timestamp = None;
    let mut first_h1 = None;
    let mut more_h1 = false;
    for (key, val) in items(value) {
        // `key, value = pair.split("=")` raises on a second `=`.
        if memchr(b'=', val.as_bytes()).is_some() {
            return Err(HeaderFault::Malformed);
        }
        match key {
            "ts" if timestamp.is_none() => {
                let parsed = parse_unix_seconds(val).ok_or(HeaderFault::Malformed)?;
                timestamp = Some((parsed, val));
            }
            "h1" if first_h1.is_none() => first_h1 = Some(val),
            "h1" => more_h1 = true,
            _ => return Err(HeaderFault::Malformed),
        }
    }
    let (timestamp, timestamp_text) = timestamp.ok_or(HeaderFault::Malformed)?;
    let first_h1 = first_h1.ok_or(HeaderFault::NoH1)?;
    Ok(PaddleHeader {
        timestamp,
        timestamp_text,
        value,
        first_h1,
        more_h1,
    })
}

fn verify<'a>(
    config: &PaddleConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    check_tolerance(config.tolerance_s).map_err(Rejection::InvalidConfig)?;
    let value = required(headers, &SIGNATURE)?;
    let parsed = parse_header(value).map_err(|fault| match fault {
        HeaderFault::Malformed => Rejection::MalformedHeader(SIGNATURE.clone()),
        HeaderFault::NoH1 => Rejection::UnsupportedVersion(SIGNATURE.clone()),
    })?;
    check_window(
        parsed.timestamp,
        now,
        config.tolerance_s,
        Some(config.tolerance_s),
    )?;
    let ts = Decimal::respelled(parsed.timestamp, parsed.timestamp_text);
    let first = lower_hex32(parsed.first_h1.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[ts.as_bytes(), b":", body]);
        attempt(expected.is_some_and(|e| match parsed.more_h1 {
            false => any_eq(&e, first),
            true => any_eq(&e, parsed.h1().filter_map(|h1| lower_hex32(h1.as_bytes()))),
        }))
    })?;
    let [event_id, event_type] = body::fields(body, [Wanted::EVENT_ID, Wanted::EVENT_TYPE_MEMBER]);
    Ok(Verified {
        secret_id,
        dedup_key: event_id,
        event_name: event_type,
        handshake: None,
    })
}

/// Paddle's scheme (its line in `schemes.rs`).
pub(crate) struct Paddle;

impl Scheme for Paddle {
    type Options = PaddleConfig;
    // Paddle names the event and its id in the body; it sends no header of interest.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["paddle-signature"];

    fn validate(options: &PaddleConfig) -> Result<(), ConfigError> {
        check_tolerance(options.tolerance_s)
    }

    fn verify<'a>(
        options: &'a PaddleConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, now)
    }

    fn prepare(_: &PaddleConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &PaddleConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let ts = now.to_string();
        let mac =
            hmac_sha256(secret, &[ts.as_bytes(), b":", body]).ok_or(SignError::InvalidSecret)?;
        Ok(vec![header(
            "Paddle-Signature",
            &format!("ts={ts};h1={}", hex::encode(mac)),
        )?])
    }

    fn event_name(_: &PaddleConfig) -> EventName<'static> {
        EventName::Body
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<PaddleConfig> {
        vec![PaddleConfig::default(), PaddleConfig { tolerance_s: 300 }]
    }
}
