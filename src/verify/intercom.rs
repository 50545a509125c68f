//! Intercom: `X-Hub-Signature: sha1=<hex>` = HMAC-SHA1(the app's client secret, raw body).
//!
//! Intercom ships no verifying library (intercom-node, intercom-python and
//! intercom-ruby have none); this follows Intercom's developer docs, "Webhooks" →
//! "Signed notifications" (developers.intercom.com, API 2.11): the header is `sha1=`
//! followed by the hex HMAC-SHA1 of the body keyed with the app's `client_secret`, and
//! the docs' sample compares that string as computed, so only `sha1=` and lower-case
//! hex can match (upper case is a mismatch, as with GitHub's equivalent).
//! - No timestamp is signed: there is no replay window beyond de-duplication.
//! - The de-dup key is the notification's body `id` (`notif_…`), which a redelivery
//!   keeps (`delivery_attempts` counts them); the event name is the body `topic`
//!   (`conversation.user.created`, and `ping` for the Developer Hub's test).

use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::required;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha1, lower_hex, secret_sha1};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");

const PREFIX: &str = "sha1=";

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    let value = required(headers, &SIGNATURE)?;
    // Anything but `sha1=` and 40 lower-case hex digits spells no digest: a mismatch,
    // as the docs' string comparison makes it.
    let received = value
        .strip_prefix(PREFIX)
        .and_then(|hex| lower_hex::<20>(hex.as_bytes()));
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha1(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let [id, topic] = body::fields(body, [Wanted::ID, Wanted::TOPIC]);
    Ok(Verified {
        secret_id,
        dedup_key: id,
        event_name: topic,
        handshake: None,
    })
}

/// Intercom's scheme (its line in `schemes.rs`).
pub(crate) struct Intercom;

impl Scheme for Intercom {
    type Options = ();
    // Intercom names the notification and its topic in the body.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-hub-signature"];

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
        PreparedSecret::for_hmac_sha1(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        _url: &str,
        _now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let mac = hmac_sha1(secret, &[body]).ok_or(SignError::InvalidSecret)?;
        Ok(vec![header(
            "X-Hub-Signature",
            &format!("{PREFIX}{}", hex::encode(mac)),
        )?])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }
}
