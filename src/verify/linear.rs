//! Linear: `Linear-Signature: <hex>` = HMAC-SHA256(the webhook's signing secret, raw
//! body); body `webhookTimestamp` (Unix milliseconds), ±60 s.
//!
//! Mirrors `@linear/sdk` 98.0.0 (`LinearWebhookClient.verify`, dist/webhooks chunk of
//! `src/webhooks/client.ts`):
//! - the signature first: the header is compared with the lower-case hex digest as a
//!   string (`timingSafeEqual` on the text), so upper case never matches;
//! - then the body's own `webhookTimestamp`, which is required (the `Linear-Timestamp`
//!   header is not consulted by `verify`) and must be a number, refused when
//!   `|now - webhookTimestamp| > 60 000 ms` (`tolerance_s`, 60 by default), both bounds
//!   inclusive.
//!
//! Choices: the timestamp must be a non-negative integer (the SDK takes any finite
//! number; Linear sends integer milliseconds); a timestamp absent and one of another
//! type are both `signature_missing`, the scan not telling them apart. De-dup key: the
//! `Linear-Delivery` header (one UUID per delivery; the body's `webhookId` names the
//! webhook, not the delivery). Event name: body `type` (`Issue`, `Comment`, …), the name
//! the SDK's handler dispatches on (`handler.on("Issue", …)`) and `Linear-Event` repeats;
//! the body's `action` (`create`, `update`, `remove`) travels in the body.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use super::body::{self, Wanted};
use super::error::{ConfigError, Rejection, SignError};
use super::headers::Lines;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, within};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("linear-signature");
pub(crate) static DELIVERY: HeaderName = HeaderName::from_static("linear-delivery");

/// `LINEAR_WEBHOOK_TS_FIELD`.
const TIMESTAMP_FIELD: &str = "webhookTimestamp";

/// The scheme's options: the `verifier` object beside `"type": "linear"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// Accepted clock skew either way, in seconds (the SDK's `1e3 * 60` ms).
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
}

impl Default for LinearConfig {
    fn default() -> Self {
        Self {
            tolerance_s: default_tolerance_s(),
        }
    }
}

fn default_tolerance_s() -> u64 {
    60
}

fn verify<'a>(
    config: &LinearConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    check_tolerance(config.tolerance_s).map_err(Rejection::InvalidConfig)?;
    let lines = Lines::read(headers, [&SIGNATURE, &DELIVERY]);
    let value = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    // Anything but 64 lower-case hex digits spells no digest: a mismatch.
    let received = lower_hex32(value.as_bytes());
    let delivery = lines.single(1)?.map(Cow::Borrowed);
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let [timestamp, kind] = body::fields(body, [Wanted::WEBHOOK_TIMESTAMP, Wanted::KIND]);
    let millis = timestamp
        .ok_or(Rejection::MissingField(TIMESTAMP_FIELD))?
        .parse::<u64>()
        .map_err(|_| Rejection::MalformedField(TIMESTAMP_FIELD))?;
    let signed_ms =
        i64::try_from(millis).map_err(|_| Rejection::MalformedField(TIMESTAMP_FIELD))?;
    check_window_ms(signed_ms, now, config.tolerance_s)?;
    Ok(Verified {
        secret_id,
        dedup_key: delivery,
        event_name: kind,
        handshake: None,
    })
}

/// The SDK's `Math.abs(Date.now() - timestamp) > 60 000` refusal, with `now` in seconds
/// and the window `tolerance_s` long either way.
fn check_window_ms(signed_ms: i64, now: i64, tolerance_s: u64) -> Result<(), Rejection> {
    let now_ms = now.saturating_mul(1000);
    let tolerance_ms = tolerance_s.saturating_mul(1000);
    if within(signed_ms, now_ms, tolerance_ms, Some(tolerance_ms)) {
        return Ok(());
    }
    let age_ms = i128::from(now_ms) - i128::from(signed_ms);
    let age_s = age_ms / 1000;
    Err(Rejection::TimestampOutOfTolerance {
        age_s: i64::try_from(age_s).unwrap_or(if age_s < 0 { i64::MIN } else { i64::MAX }),
        tolerance_s,
    })
}

/// Linear's scheme (its line in `schemes.rs`).
pub(crate) struct Linear;

impl Scheme for Linear {
    type Options = LinearConfig;
    const FORWARDED: &'static [&'static str] =
        &["linear-delivery", "linear-event", "linear-timestamp"];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["linear-signature"];

    fn validate(options: &LinearConfig) -> Result<(), ConfigError> {
        check_tolerance(options.tolerance_s)
    }

    fn verify<'a>(
        options: &'a LinearConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, now)
    }

    fn prepare(_: &LinearConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    /// Linear signs the body, whose `webhookTimestamp` dates it: `body` must carry one
    /// near `now` to verify.
    fn sign(
        _: &LinearConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        _now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        let mac = hmac_sha256(secret, &[body]).ok_or(SignError::InvalidSecret)?;
        Ok(vec![
            header("Linear-Delivery", msg_id)?,
            header("Linear-Signature", &hex::encode(mac))?,
        ])
    }

    fn event_name(_: &LinearConfig) -> EventName<'static> {
        EventName::Body
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<LinearConfig> {
        vec![LinearConfig::default(), LinearConfig { tolerance_s: 300 }]
    }
}
