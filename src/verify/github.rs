//! GitHub: `X-Hub-Signature-256: sha256=<hex>` = HMAC-SHA256(secret, raw body).
//!
//! Mirrors @octokit/webhooks-methods 6.0.0 (the released `verify`): the header must be
//! exactly `sha256=` + the lower-case hex digest. Upper-case hex is refused, as there and
//! in GitHub's own docs samples (`compare_digest` / `secure_compare` on the strings).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

use super::error::{Rejection, SignError};
use super::headers::{single, Lines};
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{Handshake, SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature-256");
pub(crate) static LEGACY_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");
pub(crate) static DELIVERY: HeaderName = HeaderName::from_static("x-github-delivery");
pub(crate) static EVENT: HeaderName = HeaderName::from_static("x-github-event");

const PREFIX: &str = "sha256=";

/// The hex digest of a well-formed header value: `sha256=` (case-sensitive, as octokit's
/// `startsWith("sha256=")`) and 64 hex digits of either case. Case is judged later by the
/// comparison, so upper case is a mismatch, not a malformed header.
pub(crate) fn parse_signature(value: &str) -> Option<&str> {
    let hex = value.strip_prefix(PREFIX)?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &[u8],
) -> Result<Verified<'a>, Rejection> {
    // One pass over the headers for the three names, cheaper than three lookups.
    let lines = Lines::read(headers, [&SIGNATURE, &DELIVERY, &EVENT]);
    let Some(value) = lines.single(0)? else {
        // SHA-1 is legacy and never computed (no sha1 dependency): say so, not just "missing".
        if single(headers, &LEGACY_SIGNATURE)?.is_some() {
            return Err(Rejection::LegacySignatureOnly);
        }
        return Err(Rejection::MissingHeader(SIGNATURE.clone()));
    };
    // Upper-case hex decodes to nothing, so it is a mismatch, as with octokit's strings;
    // only a value that is not even that is malformed.
    let received = match value
        .strip_prefix(PREFIX)
        .and_then(|hex| lower_hex32(hex.as_bytes()))
    {
        Some(digest) => Some(digest),
        None => {
            parse_signature(value).ok_or_else(|| Rejection::MalformedHeader(SIGNATURE.clone()))?;
            None
        }
    };
    let delivery = lines.single(1)?.map(Cow::Borrowed);
    let event = lines.single(2)?.map(Cow::Borrowed);

    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let handshake = (event.as_deref() == Some("ping")).then_some(Handshake::GithubPing);
    Ok(Verified {
        secret_id,
        dedup_key: delivery,
        event_name: event,
        handshake,
    })
}

/// GitHub's scheme (its line in `schemes.rs`).
pub(crate) struct Github;

impl Scheme for Github {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-hub-signature-256", "x-hub-signature"];

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
        let delivery = header("X-GitHub-Delivery", msg_id)?;
        let mac = hmac_sha256(secret, &[body]).ok_or(SignError::InvalidSecret)?;
        let signature = header(
            "X-Hub-Signature-256",
            &format!("{PREFIX}{}", hex::encode(mac)),
        )?;
        Ok(vec![delivery, signature])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Header {
            name: "X-GitHub-Event",
            example: Some("push"),
        }
    }
}
