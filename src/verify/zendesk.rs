//! Zendesk: `X-Zendesk-Webhook-Signature: <base64>` = HMAC-SHA256(the webhook's signing
//! secret, timestamp + body), `X-Zendesk-Webhook-Signature-Timestamp:
//! 2021-03-25T05:09:27Z`.
//!
//! Zendesk ships no verifying library; this follows its developer docs, "Webhooks" →
//! "Verifying webhook authenticity" and "Anatomy of a webhook request"
//! (developer.zendesk.com/documentation/webhooks/): the key is the signing secret's
//! text as shown (not base64-decoded), the signed content the timestamp header's text
//! followed by the raw body, and the docs' sample compares the padded standard base64
//! of the HMAC as a string, so any other spelling is a mismatch. A webhook not yet
//! created signs its test requests with the documented test secret
//! `dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==`.
//!
//! Choices, the docs saying nothing of them:
//! - the timestamp must be exactly `YYYY-MM-DDTHH:MM:SSZ`, the form Zendesk sends, and
//!   lie within `tolerance_s` (300 s by default) either way of the receiver's clock;
//! - de-dup key: `X-Zendesk-Webhook-Invocation-Id`, one per invocation and kept by its
//!   retries; event name: body `type` (`zen:event-type:ticket.created` for webhooks
//!   subscribed to Zendesk events; a trigger's or automation's body is the operator's
//!   own, and names the event only if it has a top-level `type`).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use super::body::{self, Wanted};
use super::error::{ConfigError, Rejection, SignError};
use super::headers::Lines;
use super::mac::{
    any_eq, attempt, base64_32, canonical_base64_32, first_matching_secret, hmac_sha256,
    secret_sha256,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, check_window, parse_utc_seconds};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-zendesk-webhook-signature");
pub(crate) static TIMESTAMP: HeaderName =
    HeaderName::from_static("x-zendesk-webhook-signature-timestamp");
pub(crate) static INVOCATION_ID: HeaderName =
    HeaderName::from_static("x-zendesk-webhook-invocation-id");

/// The scheme's options: the `verifier` object beside `"type": "zendesk"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskConfig {
    /// Accepted clock skew either way, in seconds.
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
}

impl Default for ZendeskConfig {
    fn default() -> Self {
        Self {
            tolerance_s: default_tolerance_s(),
        }
    }
}

fn default_tolerance_s() -> u64 {
    300
}

/// The timestamp header's text for `now` (Unix seconds), as Zendesk writes it.
fn timestamp_text(now: i64) -> Option<String> {
    let at = chrono::DateTime::from_timestamp(now, 0)?;
    Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn verify<'a>(
    config: &ZendeskConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    check_tolerance(config.tolerance_s).map_err(Rejection::InvalidConfig)?;
    // One pass over the headers for the three names, cheaper than a lookup each.
    let lines = Lines::read(headers, [&SIGNATURE, &TIMESTAMP, &INVOCATION_ID]);
    let signature = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    let raw_ts = lines
        .single(1)?
        .ok_or_else(|| Rejection::MissingHeader(TIMESTAMP.clone()))?;
    let timestamp =
        parse_utc_seconds(raw_ts).ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
    check_window(timestamp, now, config.tolerance_s, Some(config.tolerance_s))?;
    let received = canonical_base64_32(signature.as_bytes());
    let invocation = lines.single(2)?.map(Cow::Borrowed);
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[raw_ts.as_bytes(), body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let [kind] = body::fields(body, [Wanted::KIND]);
    Ok(Verified {
        secret_id,
        dedup_key: invocation,
        event_name: kind,
        handshake: None,
    })
}

/// Zendesk's scheme (its line in `schemes.rs`).
pub(crate) struct Zendesk;

impl Scheme for Zendesk {
    type Options = ZendeskConfig;
    const FORWARDED: &'static [&'static str] = &[
        "x-zendesk-account-id",
        "x-zendesk-webhook-id",
        "x-zendesk-webhook-invocation-id",
        "x-zendesk-webhook-signature-timestamp",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-zendesk-webhook-signature"];

    fn validate(options: &ZendeskConfig) -> Result<(), ConfigError> {
        check_tolerance(options.tolerance_s)
    }

    fn verify<'a>(
        options: &'a ZendeskConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, now)
    }

    fn prepare(_: &ZendeskConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &ZendeskConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        let ts = timestamp_text(now).ok_or(SignError::InvalidHeaderValue(
            "X-Zendesk-Webhook-Signature-Timestamp",
        ))?;
        let mac = hmac_sha256(secret, &[ts.as_bytes(), body]).ok_or(SignError::InvalidSecret)?;
        let encoded = base64_32(&mac);
        let signature = std::str::from_utf8(&encoded).map_err(|_| SignError::InvalidSecret)?;
        Ok(vec![
            header("X-Zendesk-Webhook-Invocation-Id", msg_id)?,
            header("X-Zendesk-Webhook-Signature-Timestamp", &ts)?,
            header("X-Zendesk-Webhook-Signature", signature)?,
        ])
    }

    fn event_name(_: &ZendeskConfig) -> EventName<'static> {
        EventName::Body
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<ZendeskConfig> {
        vec![ZendeskConfig::default(), ZendeskConfig { tolerance_s: 60 }]
    }
}
