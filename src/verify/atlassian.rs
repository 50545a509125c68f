//! Atlassian (Jira Cloud admin webhooks, Bitbucket Cloud and Data Center):
//! `X-Hub-Signature: sha256=<hex>` = HMAC-SHA256(the webhook's secret, raw body).
//!
//! Atlassian ships no verifying library; this follows its docs: Jira Cloud platform
//! "Webhooks" → "Secure admin webhooks" (developer.atlassian.com/cloud/jira/platform/
//! webhooks/: the WebSub `method=signature` form with `sha256`), and Bitbucket's
//! "Manage webhooks" → "Secure webhooks" (same header and form).
//! - The header must be exactly `sha256=` and the lower-case hex digest, the string
//!   every sample compares; upper case or another method is a mismatch.
//! - No timestamp is signed: there is no replay window beyond de-duplication.
//! - De-dup key: Jira's `X-Atlassian-Webhook-Identifier` (unchanged across retries),
//!   else Bitbucket Cloud's `X-Request-UUID`.
//! - Event name: Bitbucket's `X-Event-Key` header (`repo:push`), else Jira's body
//!   `webhookEvent` (`jira:issue_created`); a header present means the body is not
//!   read.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

use super::body::{self, Wanted};
use super::error::{Rejection, SignError};
use super::headers::Lines;
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");
pub(crate) static IDENTIFIER: HeaderName =
    HeaderName::from_static("x-atlassian-webhook-identifier");
pub(crate) static REQUEST_UUID: HeaderName = HeaderName::from_static("x-request-uuid");
pub(crate) static EVENT_KEY: HeaderName = HeaderName::from_static("x-event-key");

const PREFIX: &str = "sha256=";

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    // One pass over the request's headers for the four names.
    let lines = Lines::read(
        headers,
        [&SIGNATURE, &IDENTIFIER, &REQUEST_UUID, &EVENT_KEY],
    );
    let value = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    // Anything but `sha256=` and 64 lower-case hex digits spells no digest: a mismatch.
    let received = value
        .strip_prefix(PREFIX)
        .and_then(|hex| lower_hex32(hex.as_bytes()));
    let identifier = lines.single(1)?.map(Cow::Borrowed);
    let request_uuid = lines.single(2)?.map(Cow::Borrowed);
    let event_key = lines.single(3)?.map(Cow::Borrowed);
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[body]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    let event_name = match event_key {
        Some(key) => Some(key),
        None => {
            let [event] = body::fields(body, [Wanted::WEBHOOK_EVENT]);
            event
        }
    };
    Ok(Verified {
        secret_id,
        dedup_key: identifier.or(request_uuid),
        event_name,
        handshake: None,
    })
}

/// Atlassian's scheme (its line in `schemes.rs`).
pub(crate) struct Atlassian;

impl Scheme for Atlassian {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "x-atlassian-webhook-identifier",
        "x-atlassian-webhook-retry",
        "x-atlassian-webhook-flow",
        "x-event-key",
        "x-request-uuid",
        "x-hook-uuid",
        "x-attempt-number",
    ];
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
            header("X-Atlassian-Webhook-Identifier", msg_id)?,
            header("X-Hub-Signature", &format!("{PREFIX}{}", hex::encode(mac)))?,
        ])
    }

    /// Bitbucket's header; Jira names the event in the body instead, which is read
    /// when the header is absent.
    fn event_name(_: &()) -> EventName<'static> {
        EventName::Header {
            name: "X-Event-Key",
            example: Some("repo:push"),
        }
    }
}
