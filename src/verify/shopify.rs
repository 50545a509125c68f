//! Shopify: `X-Shopify-Hmac-Sha256: <b64>` = HMAC-SHA256(secret, raw body).
//!
//! Mirrors shopify-app-js (`validateHmacFromRequestFactory`): an empty body is refused
//! before the HMAC is looked at, and the header is compared with the padded standard
//! base64 of the digest as a string (`safeCompare`), so any other spelling is a mismatch.
//! `X-Shopify-Topic` and `X-Shopify-Webhook-Id` are optional here: they are not signed, so
//! requiring them (as the library's `validate` does) adds no assurance.

use base64::Engine;
use http::{HeaderMap, HeaderName};

use super::error::{Rejection, SignError};
use super::headers::{optional_field, required};
use super::mac::{
    any_eq, attempt, canonical_base64_32, first_matching_secret, hmac_sha256, secret_sha256,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-shopify-hmac-sha256");
pub(crate) static WEBHOOK_ID: HeaderName = HeaderName::from_static("x-shopify-webhook-id");
pub(crate) static TOPIC: HeaderName = HeaderName::from_static("x-shopify-topic");

fn signature_for(key: &[u8], body: &[u8]) -> Option<String> {
    hmac_sha256(key, &[body]).map(|mac| base64::engine::general_purpose::STANDARD.encode(mac))
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &[u8],
) -> Result<Verified<'a>, Rejection> {
    if body.is_empty() {
        return Err(Rejection::EmptyBody);
    }
    // Any other spelling of the digest decodes to nothing: a mismatch, as `safeCompare`.
    let received = canonical_base64_32(required(headers, &SIGNATURE)?.as_bytes());
    let webhook_id = optional_field(headers, &WEBHOOK_ID)?;
    let topic = optional_field(headers, &TOPIC)?;
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key: webhook_id,
        event_name: topic,
        handshake: None,
    })
}

/// Shopify's scheme (its line in `schemes.rs`).
pub(crate) struct Shopify;

impl Scheme for Shopify {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-api-version",
        "x-shopify-triggered-at",
        "x-shopify-event-id",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-shopify-hmac-sha256"];

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
        let webhook_id = header("X-Shopify-Webhook-Id", msg_id)?;
        let signature = signature_for(secret, body).ok_or(SignError::InvalidSecret)?;
        Ok(vec![
            webhook_id,
            header("X-Shopify-Hmac-Sha256", &signature)?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Header {
            name: "X-Shopify-Topic",
            example: Some("orders/create"),
        }
    }
}
