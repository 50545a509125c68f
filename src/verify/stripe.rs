//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`,
//! v1 = HMAC-SHA256(key = the `whsec_…` string's bytes, `{t}.{body}`).
//!
//! Mirrors `stripe` (Python 16.1.0, `WebhookSignature.verify_header`) and stripe-node:
//! - items split on `,`, key/value on `=`, nothing trimmed (`t=1, v1=…` has key ` v1`);
//! - every `v1` entry is compared with the lower-case hex digest as a string, so upper
//!   case never matches; other schemes (`v0`, unknown) are ignored;
//! - signature first, then age: only timestamps *older* than 300 s are refused; future
//!   ones are accepted, as both libraries do (`timestamp < now - tolerance`).

use http::{HeaderMap, HeaderName};

use super::body;
use super::error::Rejection;
use super::headers::required;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256};
use super::timestamp::{parse_unix_seconds, within};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

/// Stripe's library default tolerance (`Webhook.DEFAULT_TOLERANCE`).
pub(crate) const TOLERANCE_S: u64 = 300;

/// A parsed `Stripe-Signature` value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StripeHeader<'a> {
    pub(crate) timestamp: i64,
    pub(crate) v1: Vec<&'a str>,
}

/// Why a `Stripe-Signature` value was refused before any MAC was computed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderFault {
    /// No `t`, a non-integer `t`, or `t` twice.
    Malformed,
    /// No `v1` entry at all (Stripe: "No signatures found with expected scheme").
    NoV1,
}

pub(crate) fn parse_header(value: &str) -> Result<StripeHeader<'_>, HeaderFault> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    // Items without `=` are skipped: neither library can match them to anything.
    for (key, val) in value.split(',').filter_map(|item| item.split_once('=')) {
        // Both libraries split on every `=` and keep the second piece: `v1=<hex>=x` is `<hex>`.
        let val = val.split_once('=').map_or(val, |(first, _)| first);
        match key {
            "t" => {
                // stripe-python keeps the first `t`, stripe-node the last: ambiguous, refuse.
                if timestamp.is_some() {
                    return Err(HeaderFault::Malformed);
                }
                timestamp = Some(parse_unix_seconds(val).ok_or(HeaderFault::Malformed)?);
            }
            "v1" => v1.push(val),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(HeaderFault::Malformed)?;
    if v1.is_empty() {
        return Err(HeaderFault::NoV1);
    }
    Ok(StripeHeader { timestamp, v1 })
}

pub(crate) fn verify(
    secrets: &[SecretCandidate<'_>],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    let value = required(headers, &SIGNATURE)?;
    let parsed = parse_header(value).map_err(|fault| match fault {
        HeaderFault::Malformed => Rejection::MalformedHeader(SIGNATURE.clone()),
        HeaderFault::NoV1 => Rejection::UnsupportedVersion(SIGNATURE.clone()),
    })?;
    // Both libraries sign the re-formatted integer ("%d"), not the raw digits.
    let t = parsed.timestamp.to_string();
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |key| {
        let expected = hmac_sha256(key, &[t.as_bytes(), b".", body]).map(hex::encode);
        let received = parsed.v1.iter().map(|s| s.as_bytes());
        attempt(expected.is_some_and(|e| any_eq(e.as_bytes(), received)))
    })?;
    if !within(parsed.timestamp, now, TOLERANCE_S, None) {
        return Err(Rejection::TimestampOutOfTolerance);
    }
    let fields = body::fields(body);
    Ok(Verified {
        secret_id,
        dedup_key: fields.id,
        event_name: fields.kind,
        signed_at: Some(parsed.timestamp),
        handshake: None,
    })
}
