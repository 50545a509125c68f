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
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use rand::RngCore;
use sha2::Sha256;

use super::body;
use super::error::{Rejection, SignError};
use super::headers::Lines;
use super::mac::{
    any_eq, attempt, base64_32, canonical_base64_32, finish_sha256, first_matching_secret,
    hmac_sha256, Attempt, Decimal,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, random_bytes, EventName, Headers, Scheme};
use super::timestamp::{check_window, parse_unix_seconds};
use super::whsec::{self, with_key};
use super::{SecretCandidate, Verified};

pub(crate) static ID: HeaderName = HeaderName::from_static("webhook-id");
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
static SVIX_ID: HeaderName = HeaderName::from_static("svix-id");
static SVIX_TIMESTAMP: HeaderName = HeaderName::from_static("svix-timestamp");
static SVIX_SIGNATURE: HeaderName = HeaderName::from_static("svix-signature");

pub(crate) const TOLERANCE_S: u64 = 300;

/// The first of [`v1_signatures`] and whether another follows. A value that is one
/// `v1,` entry (no space, the usual case) is read without splitting.
pub(crate) fn first_v1(value: &str) -> Option<(&str, bool)> {
    let only = value.strip_prefix("v1,").filter(|rest| {
        !rest
            .as_bytes()
            .iter()
            .fold(false, |space, &b| space | (b == b' '))
    });
    if let Some(only) = only {
        return Some((only, false));
    }
    let mut v1s = v1_signatures(value);
    let first = v1s.next()?;
    Some((first, v1s.next().is_some()))
}

/// The `v1` signatures of a `webhook-signature` value, in order.
pub(crate) fn v1_signatures(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .map(|(_, signature)| signature)
}

/// The base64 `v1` signature (without `v1,`) from a keyed HMAC state, on the stack.
fn signature_from(keyed: &Hmac<Sha256>, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 44] {
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

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let [msg_id, raw_ts, signatures] = pick(headers)?;
    let timestamp =
        parse_unix_seconds(raw_ts).ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
    check_window(timestamp, now, TOLERANCE_S, Some(TOLERANCE_S))?;
    // One signature (one per secret the sender holds) is the usual case: decoded once,
    // not re-read for every secret candidate. Other spellings of a digest decode to
    // nothing: they can equal no expected string.
    let (first, more) =
        first_v1(signatures).ok_or_else(|| Rejection::UnsupportedVersion(SIGNATURE.clone()))?;
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
    let [kind] = body::fields(body, [body::Wanted::KIND]);
    Ok(Verified {
        secret_id,
        dedup_key: Some(Cow::Borrowed(msg_id)),
        event_name: kind,
        handshake: None,
    })
}

/// The Standard Webhooks `webhook-signature` value: one `v1,<b64>` per secret, joined by
/// single spaces, so receivers holding any one of the secrets verify (SPEC §5 rotation).
/// `secrets` are full `whsec_…` strings.
pub fn standard_webhooks_signature(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[&[u8]],
) -> Result<String, SignError> {
    let keys = secrets
        .iter()
        .map(|secret| SigningKey::new(secret))
        .collect::<Result<Vec<_>, _>>()?;
    standard_webhooks_signature_with(msg_id, timestamp, body, &keys)
}

/// [`standard_webhooks_signature`] from keys made ready beforehand.
pub fn standard_webhooks_signature_with(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    keys: &[SigningKey],
) -> Result<String, SignError> {
    if keys.is_empty() {
        return Err(SignError::NoSecret);
    }
    // `v1,` + 44 base64 characters, and a space between two.
    let mut value = String::with_capacity(keys.len() * 49);
    for key in keys {
        let signature = signature_from(&key.0, msg_id, timestamp, body);
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str("v1,");
        // Base64 is ASCII, so this cannot fail; refuse rather than panic all the same.
        value.push_str(std::str::from_utf8(&signature).map_err(|_| SignError::InvalidSecret)?);
    }
    Ok(value)
}

/// An outbound `whsec_…` secret made ready to sign with: its base64 decoded and the
/// HMAC key schedule computed once (the delivery workers do it once per endpoint per
/// claimed batch), so each attempt's signature starts from a copy of that state rather
/// than decoding the secret again. Derived from the secret, so as sensitive: it is never
/// printed.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    /// `InvalidSecret` when the part after `whsec_` is not base64 or is empty, as every
    /// Standard Webhooks library refuses it.
    pub fn new(secret: &[u8]) -> Result<Self, SignError> {
        whsec::keyed(secret)
            .map(Self)
            .ok_or(SignError::InvalidSecret)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The Standard Webhooks scheme, Svix's included (its line in `schemes.rs`).
pub(crate) struct StandardWebhooks;

impl Scheme for StandardWebhooks {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "webhook-id",
        "webhook-timestamp",
        "svix-id",
        "svix-timestamp",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["webhook-signature", "svix-signature"];

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
        PreparedSecret::for_whsec_hmac_sha256(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        Ok(vec![
            header("webhook-id", msg_id)?,
            header("webhook-timestamp", &now.to_string())?,
            header(
                "webhook-signature",
                &standard_webhooks_signature(msg_id, now, body, &[secret])?,
            )?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }

    /// `whsec_` + base64 of the raw key (the libraries take 24 to 64 bytes; 32 here).
    fn new_secret(random: &mut dyn RngCore) -> Option<String> {
        Some(format!(
            "whsec_{}",
            STANDARD.encode(random_bytes::<32>(random))
        ))
    }

    fn check_secret(value: &str) -> Result<(), &'static str> {
        let key = value.strip_prefix("whsec_").unwrap_or(value);
        match STANDARD.decode(key) {
            Ok(bytes) if bytes.len() >= 16 => Ok(()),
            _ => Err("must be whsec_ followed by base64 of at least 16 bytes"),
        }
    }
}
