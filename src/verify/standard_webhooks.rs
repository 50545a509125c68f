//! Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<b64>[ v1,<b64>…]`, v1 = HMAC-SHA256(base64-decoded part after
//! `whsec_`, `{id}.{ts}.{body}`), ±300 s.
//!
//! Mirrors `standardwebhooks` / `svix` (Python 1.1.0 / 2.9.1) and the reference Rust and
//! JS libraries:
//! - `svix-*` headers win over `webhook-*`, field by field (`svix.Webhook.verify`);
//! - timestamp checked before the signature, both bounds inclusive (`<` / `>` 300 s);
//! - entries split on single spaces, version/signature on the first comma; entries that
//!   are not `v1` (`v2,…`, `v1a,…`, empty, no comma) are skipped as in the JS and Rust
//!   libraries (Python raises on a comma-less entry; a signature beside it still counts here);
//! - each `v1` value is compared with the padded standard base64 of the digest.

use std::borrow::Cow;

use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use super::body;
use super::error::Rejection;
use super::headers::Lines;
use super::mac::{
    any_eq, attempt, base64_32, canonical_base64_32, finish_sha256, first_matching_secret,
    hmac_sha256, Attempt, Decimal,
};
use super::prepared::PreparedSecret;
use super::timestamp::{parse_unix_seconds, within};
use super::whsec::with_key;
use super::{SecretCandidate, Verified};

pub(crate) static ID: HeaderName = HeaderName::from_static("webhook-id");
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
static SVIX_ID: HeaderName = HeaderName::from_static("svix-id");
static SVIX_TIMESTAMP: HeaderName = HeaderName::from_static("svix-timestamp");
static SVIX_SIGNATURE: HeaderName = HeaderName::from_static("svix-signature");

pub(crate) const TOLERANCE_S: u64 = 300;

/// The `v1` signatures of a `webhook-signature` value, in order.
pub(crate) fn v1_signatures(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .map(|(_, signature)| signature)
}

/// The base64 `v1` signature (without `v1,`) from a keyed HMAC state, on the stack.
pub(crate) fn signature_from(
    keyed: &Hmac<Sha256>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> [u8; 44] {
    let ts = Decimal::new(timestamp);
    base64_32(&finish_sha256(keyed.clone(), &signed(msg_id, &ts, body)))
}

/// `{id}.{timestamp}.{body}`, in parts.
fn signed<'p>(msg_id: &'p str, timestamp: &'p Decimal, body: &'p [u8]) -> [&'p [u8]; 5] {
    [msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body]
}

/// The MAC under a secret as stored (`whsec_…`), from its prepared key schedule when it
/// has one; `None` when the secret cannot be a key.
fn secret_mac(secret: &SecretCandidate<'_>, signed: &[&[u8]]) -> Option<[u8; 32]> {
    match secret.prepared.and_then(PreparedSecret::whsec_sha256) {
        Some(ready) => Some(finish_sha256(ready.clone(), signed)),
        None => with_key(secret.value, |key| hmac_sha256(key, signed)).flatten(),
    }
}

/// The three headers, each `svix-*` if sent (and not empty), else `webhook-*`.
fn pick(headers: &HeaderMap) -> Result<[&str; 3], Rejection> {
    let lines = Lines::read(
        headers,
        [
            &SVIX_ID,
            &ID,
            &SVIX_TIMESTAMP,
            &TIMESTAMP,
            &SVIX_SIGNATURE,
            &SIGNATURE,
        ],
    );
    // In the order one lookup after another would meet a fault: id, timestamp, signature.
    let mut picked = [""; 3];
    let fields = [(0, 1, &ID), (2, 3, &TIMESTAMP), (4, 5, &SIGNATURE)];
    for (field, (svix, standard, name)) in picked.iter_mut().zip(fields) {
        *field = match lines.single(svix)? {
            Some(value) => value,
            None => lines
                .single(standard)?
                .ok_or_else(|| Rejection::MissingHeader(name.clone()))?,
        };
    }
    Ok(picked)
}

pub(crate) fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let [msg_id, raw_ts, signatures] = pick(headers)?;
    let timestamp =
        parse_unix_seconds(raw_ts).ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
    if !within(timestamp, now, TOLERANCE_S, Some(TOLERANCE_S)) {
        return Err(Rejection::TimestampOutOfTolerance);
    }
    let mut v1s = v1_signatures(signatures);
    let Some(first) = v1s.next() else {
        return Err(Rejection::UnsupportedVersion(SIGNATURE.clone()));
    };
    // One signature (one per secret the sender holds) is the usual case: decoded once,
    // not re-read for every secret candidate. Other spellings of a digest decode to
    // nothing: they can equal no expected string.
    let more = v1s.next().is_some();
    let first = canonical_base64_32(first.as_bytes());
    let ts = Decimal::respelled(timestamp, raw_ts);
    let signed = signed(msg_id, &ts, body);
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let Some(expected) = secret_mac(secret, &signed) else {
            return Attempt::Unusable;
        };
        attempt(match more {
            false => any_eq(&expected, first),
            true => any_eq(
                &expected,
                v1_signatures(signatures).filter_map(|v1| canonical_base64_32(v1.as_bytes())),
            ),
        })
    })?;
    Ok(Verified {
        secret_id,
        dedup_key: Some(Cow::Borrowed(msg_id)),
        event_name: body::fields(body, body::Wanted::KIND).kind,
        signed_at: Some(timestamp),
        handshake: None,
    })
}
