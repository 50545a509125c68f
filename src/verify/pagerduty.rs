//! PagerDuty (v3 webhooks): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, each
//! HMAC-SHA256(a subscription's secret, raw body); any one matching is enough.
//!
//! Mirrors go-pagerduty's `webhookv3.VerifySignature` (webhookv3/webhookv3.go at commit
//! 142eaff), the library PagerDuty's "Verifying Signatures" page points to:
//! - entries split on `,` with nothing trimmed; only those starting `v1=` whose rest is
//!   hex count (Go's `hex.DecodeString`: either case, even length), the others are
//!   skipped; a header with none is malformed;
//! - a decoded entry must equal the digest (`hmac.Equal`), so upper-case hex matches
//!   and a digest of another length never does;
//! - an empty body is refused before any MAC (`ErrMalformedBody`);
//! - no timestamp is signed: there is no replay window beyond de-duplication.
//!
//! Choices: the header sent twice is refused (Go's `Header.Get` reads the first line).
//! De-dup key: body `event.id` (one per event, kept by a redelivery); event name: body
//! `event.event_type` (`incident.triggered`, and `pagey.ping` for a test).

use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::required;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-pagerduty-signature");

const PREFIX: &str = "v1=";

/// What one header entry is to go-pagerduty: not a v1 signature (skipped), a v1
/// signature of a digest's length, or one of another length (counted, never equal).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Skipped,
    Digest([u8; 32]),
    OtherLength,
}

/// One comma-separated entry, read as go-pagerduty's `extractPayloadSignatures` does.
pub(crate) fn parse_entry(entry: &str) -> Entry {
    let Some(hex) = entry.strip_prefix(PREFIX) else {
        return Entry::Skipped;
    };
    // The spelling PagerDuty sends, decoded in one pass; upper case and other lengths
    // are read the general way below.
    if let Some(digest) = lower_hex32(hex.as_bytes()) {
        return Entry::Digest(digest);
    }
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Entry::Skipped;
    }
    let mut digest = [0; 32];
    match hex::decode_to_slice(hex, &mut digest) {
        Ok(()) => Entry::Digest(digest),
        Err(_) => Entry::OtherLength,
    }
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    let value = required(headers, &SIGNATURE)?;
    if body.is_empty() {
        return Err(Rejection::EmptyBody);
    }
    // PagerDuty sends one `v1=` entry per secret: the first digest is kept decoded, and
    // the value is read again only when more than one entry came.
    let mut entries = value.split(',').map(parse_entry);
    let mut first = None;
    let mut well_formed = false;
    let mut more = false;
    for entry in entries.by_ref() {
        well_formed |= entry != Entry::Skipped;
        if let Entry::Digest(digest) = entry {
            first = Some(digest);
            break;
        }
    }
    for entry in entries {
        well_formed |= entry != Entry::Skipped;
        more |= matches!(entry, Entry::Digest(_));
    }
    if !well_formed {
        return Err(Rejection::MalformedHeader(SIGNATURE.clone()));
    }
    let digests = || {
        value
            .split(',')
            .filter_map(|entry| match parse_entry(entry) {
                Entry::Digest(digest) => Some(digest),
                _ => None,
            })
    };
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| match more {
            false => any_eq(&e, first),
            true => any_eq(&e, digests()),
        }))
    })?;
    let [id, event_type] = body::fields(
        body,
        [Wanted::EVENT_OBJECT_ID, Wanted::EVENT_OBJECT_EVENT_TYPE],
    );
    Ok(Verified {
        secret_id,
        dedup_key: id,
        event_name: event_type,
        handshake: None,
    })
}

/// PagerDuty's scheme (its line in `schemes.rs`).
pub(crate) struct Pagerduty;

impl Scheme for Pagerduty {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &["x-webhook-id", "x-webhook-subscription"];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-pagerduty-signature"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers, body)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        _url: &str,
        _now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        let mac = hmac_sha256(secret, &[body]).ok_or(SignError::InvalidSecret)?;
        Ok(vec![
            header("X-Webhook-Id", msg_id)?,
            header(
                "X-PagerDuty-Signature",
                &format!("{PREFIX}{}", hex::encode(mac)),
            )?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }
}
