//! Typeform: `Typeform-Signature: sha256=<base64>` = HMAC-SHA256(the webhook's secret,
//! raw body).
//!
//! Typeform ships no verifying library (its JS SDK `@typeform/api-client` has none);
//! this follows its developer docs, "Webhooks" → "Secure your webhooks"
//! (typeform.com/developers/webhooks/secure-your-webhooks/): `sha256=` followed by the
//! padded standard base64 of the HMAC, which the docs' samples compare as a string, so
//! any other spelling (unpadded, URL-safe, another prefix) is a mismatch.
//! - No timestamp is signed: there is no replay window beyond de-duplication.
//! - De-dup key: body `event_id`, kept by a redelivery; event name: body `event_type`
//!   (`form_response`, `form_response_partial`).

use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::required;
use super::mac::{
    any_eq, attempt, base64_32, canonical_base64_32, first_matching_secret, hmac_sha256,
    secret_sha256,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("typeform-signature");

const PREFIX: &str = "sha256=";

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    let value = required(headers, &SIGNATURE)?;
    // Anything but `sha256=` and the padded base64 of a digest spells none: a mismatch.
    let received = value
        .strip_prefix(PREFIX)
        .and_then(|b64| canonical_base64_32(b64.as_bytes()));
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let [event_id, event_type] = body::fields(body, [Wanted::EVENT_ID, Wanted::EVENT_TYPE_MEMBER]);
    Ok(Verified {
        secret_id,
        dedup_key: event_id,
        event_name: event_type,
        handshake: None,
    })
}

/// Typeform's scheme (its line in `schemes.rs`).
pub(crate) struct Typeform;

impl Scheme for Typeform {
    type Options = ();
    // Typeform names the event and its id in the body.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["typeform-signature"];

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
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let mac = hmac_sha256(secret, &[body]).ok_or(SignError::InvalidSecret)?;
        let encoded = base64_32(&mac);
        let text = std::str::from_utf8(&encoded).map_err(|_| SignError::InvalidSecret)?;
        Ok(vec![header(
            "Typeform-Signature",
            &format!("{PREFIX}{text}"),
        )?])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }
}
