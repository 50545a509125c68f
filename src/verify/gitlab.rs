//! GitLab: `X-Gitlab-Token: <secret token>`, the webhook's secret token sent as is.
//!
//! GitLab ships no verifying library; this follows GitLab's webhook documentation
//! ("Webhooks" → "Create a webhook" → "Secret token", and "Delivery headers", GitLab
//! 17.x/18.x docs at docs.gitlab.com/user/project/integrations/webhooks/):
//! - the token is compared as SHA-256 digests in constant time (as `bearer`), so neither
//!   its content nor its length leaks through timing; nothing is trimmed but the
//!   surrounding spaces HTTP itself strips;
//! - the de-dup key is `Idempotency-Key` when sent (GitLab 17.4+, merge request 160952:
//!   one UUID per delivery, kept when the delivery is resent), else
//!   `X-Gitlab-Event-UUID` (SPEC §3.4: one per event, shared by the hooks it triggers,
//!   so unique per source, but older GitLab gives a resent delivery a new one);
//! - the event name is `X-Gitlab-Event` (`Push Hook`, `Merge Request Hook`, …), as the
//!   docs' "Events" page names them;
//! - no timestamp is sent, so there is no replay window beyond de-duplication. GitLab
//!   18.3's optional signing token (Standard Webhooks headers) is the
//!   `standard_webhooks` verifier's job, not this one's.

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use super::error::{Rejection, SignError};
use super::headers::{optional_field, required};
use super::mac::{any_eq, attempt, first_matching_secret};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static TOKEN: HeaderName = HeaderName::from_static("x-gitlab-token");
pub(crate) static EVENT_UUID: HeaderName = HeaderName::from_static("x-gitlab-event-uuid");
pub(crate) static EVENT: HeaderName = HeaderName::from_static("x-gitlab-event");
pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
) -> Result<Verified<'a>, Rejection> {
    let token = required(headers, &TOKEN)?;
    let event_uuid = optional_field(headers, &EVENT_UUID)?;
    let dedup_key = optional_field(headers, &IDEMPOTENCY_KEY)?.or(event_uuid);
    let event_name = optional_field(headers, &EVENT)?;
    let received = Sha256::digest(token.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::TokenMismatch, |secret| {
        let expected = match secret.prepared.and_then(PreparedSecret::token_digest) {
            Some(digest) => *digest,
            None => Sha256::digest(secret.value).into(),
        };
        attempt(any_eq(&expected, [received.as_slice()]))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key,
        event_name,
        handshake: None,
    })
}

/// GitLab's scheme (its line in `schemes.rs`).
pub(crate) struct Gitlab;

impl Scheme for Gitlab {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "x-gitlab-event",
        "x-gitlab-event-uuid",
        "x-gitlab-webhook-uuid",
        "x-gitlab-instance",
        "idempotency-key",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-gitlab-token"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        _body: &'a [u8],
        _url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_token(secret)
    }

    fn sign(
        _: &(),
        secret: &[u8],
        _body: &[u8],
        _url: &str,
        _now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        let token = std::str::from_utf8(secret).map_err(|_| SignError::InvalidSecret)?;
        Ok(vec![
            header("X-Gitlab-Event-UUID", msg_id)?,
            header("Idempotency-Key", msg_id)?,
            header("X-Gitlab-Token", token)?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Header {
            name: "X-Gitlab-Event",
            example: Some("Push Hook"),
        }
    }
}
