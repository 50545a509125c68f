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
use rand::RngCore;

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::{required, timestamp_then_signature};
use super::mac::{
    any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256, Decimal,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, random_bytes, EventName, Headers, Scheme};
use super::timestamp::{check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");

/// Stripe's library default tolerance (`Webhook.DEFAULT_TOLERANCE`).
pub(crate) const TOLERANCE_S: u64 = 300;

/// A parsed `Stripe-Signature` value: the timestamp, and the `v1` signatures read from
/// the value on demand (no list is built: a header may carry any number of them).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StripeHeader<'a> {
    pub(crate) timestamp: i64,
    /// The `t` value as sent.
    timestamp_text: &'a str,
    value: &'a str,
    /// The first `v1` signature, and whether another follows: with one (Stripe sends one
    /// per secret), it is decoded once, not re-read for every secret candidate.
    first_v1: &'a str,
    more_v1: bool,
}

impl<'a> StripeHeader<'a> {
    /// Every `v1` signature, in order; at least one.
    pub(crate) fn v1(&self) -> impl Iterator<Item = &'a str> {
        items(self.value).filter_map(|(key, val)| (key == "v1").then_some(val))
    }
}

/// Why a `Stripe-Signature` value was refused before any MAC was computed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderFault {
    /// No `t`, a non-integer `t`, or `t` twice.
    Malformed,
    /// No `v1` entry at all (Stripe: "No signatures found with expected scheme").
    NoV1,
}

/// The `key=value` items of a header value. Items without `=` are skipped: neither
/// library can match them to anything.
fn items(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(',').filter_map(|item| {
        let (key, val) = item.split_once('=')?;
        // Both libraries split on every `=` and keep the second piece: `v1=<hex>=x` is `<hex>`.
        Some((key, val.split_once('=').map_or(val, |(first, _)| first)))
    })
}

pub(crate) fn parse_header(value: &str) -> Result<StripeHeader<'_>, HeaderFault> {
    if let Some(one) = timestamp_then_signature(value, "t=", b',', "v1=") {
        return Ok(StripeHeader {
            timestamp: one.timestamp,
            timestamp_text: one.digits,
            value,
            first_v1: one.signature,
            more_v1: false,
        });
    }
    parse_items(value)
}

/// The header read item by item, as the SDK reads it ([`parse_header`] gives the same
/// for every value, faster for the common one).
pub(crate) fn parse_items(value: &str) -> Result<StripeHeader<'_>, HeaderFault> {
    let mut timestamp = None;
    let mut timestamp_text = "";
    let mut first_v1 = None;
    let mut more_v1 = false;
    for (key, val) in items(value) {
        match key {
            "t" => {
                // stripe-python keeps the first `t`, stripe-node the last: ambiguous, refuse.
                if timestamp.is_some() {
                    return Err(HeaderFault::Malformed);
                }
                timestamp = Some(parse_unix_seconds(val).ok_or(HeaderFault::Malformed)?);
                timestamp_text = val;
            }
            "v1" if first_v1.is_none() => first_v1 = Some(val),
            "v1" => more_v1 = true,
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(HeaderFault::Malformed)?;
    let first_v1 = first_v1.ok_or(HeaderFault::NoV1)?;
    Ok(StripeHeader {
        timestamp,
        timestamp_text,
        value,
        first_v1,
        more_v1,
    })
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let value = required(headers, &SIGNATURE)?;
    let parsed = parse_header(value).map_err(|fault| match fault {
        HeaderFault::Malformed => Rejection::MalformedHeader(SIGNATURE.clone()),
        HeaderFault::NoV1 => Rejection::UnsupportedVersion(SIGNATURE.clone()),
    })?;
    // Both libraries sign the re-formatted integer ("%d"), not the raw digits.
    let t = Decimal::respelled(parsed.timestamp, parsed.timestamp_text);
    // Entries that are not lower-case hex can equal no digest's spelling.
    let first = lower_hex32(parsed.first_v1.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[t.as_bytes(), b".", body]);
        attempt(expected.is_some_and(|e| match parsed.more_v1 {
            false => any_eq(&e, first),
            true => any_eq(&e, parsed.v1().filter_map(|v1| lower_hex32(v1.as_bytes()))),
        }))
    })?;
    check_window(parsed.timestamp, now, TOLERANCE_S, None)?;
    let [id, kind] = body::fields(body, [Wanted::ID, Wanted::KIND]);
    Ok(Verified {
        secret_id,
        dedup_key: id,
        event_name: kind,
        handshake: None,
    })
}

/// Stripe's scheme (its line in `schemes.rs`).
pub(crate) struct Stripe;

impl Scheme for Stripe {
    type Options = ();
    // Stripe names the event and its id in the body; it sends no header of interest.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["stripe-signature"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers, body, now)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        // Keyed with the whole `whsec_…` string, as Stripe's libraries do.
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let ts = now.to_string();
        let mac =
            hmac_sha256(secret, &[ts.as_bytes(), b".", body]).ok_or(SignError::InvalidSecret)?;
        let v1 = hex::encode(mac);
        Ok(vec![header(
            "Stripe-Signature",
            &format!("t={ts},v1={v1}"),
        )?])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }

    /// `whsec_` and hex, as Stripe's dashboard shows an endpoint's signing secret; the
    /// HMAC is keyed with the whole string.
    fn new_secret(random: &mut dyn RngCore) -> Option<String> {
        Some(format!("whsec_{}", hex::encode(random_bytes::<24>(random))))
    }
}
