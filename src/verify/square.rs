//! Square: `X-Square-HmacSha256-Signature: <b64>` = HMAC-SHA256(signature key,
//! notification URL + body).
//!
//! Mirrors `squareup` 46.0.0.20260916 (PyPI), `square/utils/webhooks_helper.py`
//! (`verify_signature`): an empty body is refused before the HMAC is looked at, the
//! signed text is the notification URL followed by the raw body, and the header is
//! compared with the padded base64 of the digest as bytes (`hmac.compare_digest`), so
//! any other spelling is a mismatch.
//!
//! Choices: the notification URL is the source's `ingress_url` (under
//! `HOOKGATE_PUBLIC_URL`) and the request's query, which is what the subscription in
//! Square's portal must name. The legacy `X-Square-Signature` (HMAC-SHA1) is not
//! accepted. De-dup key: body `event_id`; event name: body `type`.

use base64::Engine;
use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::required;
use super::mac::{
    any_eq, attempt, canonical_base64_32, first_matching_secret, hmac_sha256, secret_sha256,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-square-hmacsha256-signature");

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
    url: &str,
) -> Result<Verified<'a>, Rejection> {
    if body.is_empty() {
        return Err(Rejection::EmptyBody);
    }
    let received = canonical_base64_32(required(headers, &SIGNATURE)?.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[url.as_bytes(), body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let [event_id, kind] = body::fields(body, [Wanted::EVENT_ID, Wanted::KIND]);
    Ok(Verified {
        secret_id,
        dedup_key: event_id,
        event_name: kind,
        handshake: None,
    })
}

/// Square's scheme (its line in `schemes.rs`).
pub(crate) struct Square;

impl Scheme for Square {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "square-version",
        "square-environment",
        "square-initial-delivery-timestamp",
        "square-retry-number",
        "square-retry-reason",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] =
        &["x-square-hmacsha256-signature", "x-square-signature"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers, body, url)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        url: &str,
        _now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        if url.is_empty() {
            return Err(SignError::NoUrl);
        }
        let mac = hmac_sha256(secret, &[url.as_bytes(), body]).ok_or(SignError::InvalidSecret)?;
        let signature = base64::engine::general_purpose::STANDARD.encode(mac);
        Ok(vec![header("X-Square-HmacSha256-Signature", &signature)?])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }
}
