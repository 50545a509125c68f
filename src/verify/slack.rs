//! Slack: `X-Slack-Signature: v0=<hex>` = HMAC-SHA256(signing secret, `v0:{ts}:{body}`),
//! `X-Slack-Request-Timestamp`, ±300 s.
//!
//! Mirrors `slack_sdk` 3.47.0 (`SignatureVerifier.is_valid`): both headers required, the
//! timestamp window (`abs(now - ts) > 300` refused) checked before the signature, the raw
//! timestamp text signed, and the whole header compared with `v0=` + lower-case hex as a
//! string, so `V0=`, upper-case hex or another version never match.

use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::Lines;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_window, parse_unix_seconds};
use super::{Handshake, SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-slack-signature");
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("x-slack-request-timestamp");

pub(crate) const TOLERANCE_S: u64 = 300;

/// `v0=<hex>` for one signing secret.
fn signature_for(key: &[u8], timestamp: &str, body: &[u8]) -> Option<String> {
    let mac = mac_for(key, timestamp, body)?;
    Some(format!("v0={}", hex::encode(mac)))
}

/// HMAC-SHA256 of the signed content.
fn mac_for(key: &[u8], timestamp: &str, body: &[u8]) -> Option<[u8; 32]> {
    hmac_sha256(key, &signed(timestamp, body))
}

/// `v0:{timestamp}:{body}`, the raw timestamp text as sent, in parts.
fn signed<'p>(timestamp: &'p str, body: &'p [u8]) -> [&'p [u8]; 4] {
    [b"v0:", timestamp.as_bytes(), b":", body]
}

/// The parsed timestamp, if the header text is plain integer seconds. `slack_sdk` uses
/// `int()`, which also takes `+5`, ` 5` or `1_5`; Slack sends none of those.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    parse_unix_seconds(text)
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let lines = Lines::read(headers, [&TIMESTAMP, &SIGNATURE]);
    let raw_ts = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(TIMESTAMP.clone()))?;
    // Only `v0=` + lower-case hex can equal the expected string; anything else decodes
    // to nothing and is a mismatch.
    let received = lines
        .single(1)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?
        .strip_prefix("v0=")
        .and_then(|hex| lower_hex32(hex.as_bytes()));
    let timestamp =
        parse_timestamp(raw_ts).ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
    check_window(timestamp, now, TOLERANCE_S, Some(TOLERANCE_S))?;
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &signed(raw_ts, body));
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    // Form-encoded bodies (slash commands, interactivity) yield no fields: no key, no name.
    let [kind, event_id, event_type] =
        body::fields(body, [Wanted::KIND, Wanted::EVENT_ID, Wanted::EVENT_TYPE]);
    // The challenge is read only for the handshake, in a second scan of that tiny body:
    // asking for it every time would make every event body be scanned to its end.
    let handshake = match kind.as_deref() {
        Some("url_verification") => {
            let [challenge] = body::fields(body, [Wanted::CHALLENGE]);
            challenge.map(|challenge| Handshake::SlackUrlVerification {
                challenge: challenge.into_owned(),
            })
        }
        _ => None,
    };
    Ok(Verified {
        secret_id,
        dedup_key: event_id,
        event_name: event_type.or(kind),
        handshake,
    })
}

/// Slack's scheme (its line in `schemes.rs`).
pub(crate) struct Slack;

impl Scheme for Slack {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "x-slack-request-timestamp",
        "x-slack-retry-num",
        "x-slack-retry-reason",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-slack-signature"];

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
        let timestamp = header("X-Slack-Request-Timestamp", &ts)?;
        let signature = signature_for(secret, &ts, body).ok_or(SignError::InvalidSecret)?;
        Ok(vec![timestamp, header("X-Slack-Signature", &signature)?])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }
}
