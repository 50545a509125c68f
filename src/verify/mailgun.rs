//! Mailgun: the body's `signature` object, `{"timestamp", "token", "signature"}`, with
//! signature = hex HMAC-SHA256(the account's HTTP webhook signing key,
//! timestamp + token).
//!
//! Mailgun ships no verifying library for webhooks (mailgun.js and the Python
//! `mailgun` client have none); this follows its docs, "Webhooks" → "Securing webhooks"
//! (documentation.mailgun.com, the JSON payload of the current webhooks), whose Python
//! sample concatenates the two strings, keys the HMAC with the signing key's text and
//! compares the lower-case hex digest with `compare_digest`, so upper case is a mismatch.
//!
//! The signature covers the timestamp and the token only, never the event: a captured
//! `signature` object verifies beside any `event-data` until its timestamp leaves the
//! window. The docs advise a fresh timestamp and a token used once; hookgate checks the
//! timestamp against `tolerance_s` (300 s by default; keep it short), and de-duplicates
//! on the event's `event-data.id`, which Mailgun keeps across retries (each retry is
//! signed anew).
//!
//! Choices: only the JSON payload is read (the legacy form-encoded webhooks, which sent
//! the three fields as form fields, are not verified); `timestamp` must be a string of
//! plain digits, as Mailgun sends it. Event name: `event-data.event` (`delivered`,
//! `opened`, …).

use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::body::{self, Wanted};
use super::error::{ConfigError, Rejection, SignError};
use super::mac::{any_eq, attempt, first_matching_secret, hmac_sha256, lower_hex32, secret_sha256};
use super::prepared::PreparedSecret;
use super::scheme::{EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

/// The scheme's options: the `verifier` object beside `"type": "mailgun"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailgunConfig {
    /// Accepted clock skew either way, in seconds, of `signature.timestamp`.
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
}

impl Default for MailgunConfig {
    fn default() -> Self {
        Self {
            tolerance_s: default_tolerance_s(),
        }
    }
}

fn default_tolerance_s() -> u64 {
    300
}

const TIMESTAMP: &str = "signature.timestamp";
const TOKEN: &str = "signature.token";
const SIGNATURE: &str = "signature.signature";

fn verify<'a>(
    config: &MailgunConfig,
    secrets: &[SecretCandidate<'a>],
    body: &'a [u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    check_tolerance(config.tolerance_s).map_err(Rejection::InvalidConfig)?;
    let [raw_ts, token, signature, dedup_key, event_name] = body::fields(
        body,
        [
            Wanted::SIGNATURE_TIMESTAMP,
            Wanted::SIGNATURE_TOKEN,
            Wanted::SIGNATURE_SIGNATURE,
            Wanted::EVENT_DATA_ID,
            Wanted::EVENT_DATA_EVENT,
        ],
    );
    let raw_ts = raw_ts.ok_or(Rejection::MissingField(TIMESTAMP))?;
    let token = token.ok_or(Rejection::MissingField(TOKEN))?;
    let signature = signature.ok_or(Rejection::MissingField(SIGNATURE))?;
    let timestamp = parse_unix_seconds(&raw_ts).ok_or(Rejection::MalformedField(TIMESTAMP))?;
    check_window(timestamp, now, config.tolerance_s, Some(config.tolerance_s))?;
    // Anything but 64 lower-case hex digits spells no digest: a mismatch.
    let received = lower_hex32(signature.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &[raw_ts.as_bytes(), token.as_bytes()]);
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key,
        event_name,
        handshake: None,
    })
}

/// Mailgun's scheme (its line in `schemes.rs`).
pub(crate) struct Mailgun;

impl Scheme for Mailgun {
    type Options = MailgunConfig;
    // Mailgun's signature, id and event are all in the body.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &[];

    fn validate(options: &MailgunConfig) -> Result<(), ConfigError> {
        check_tolerance(options.tolerance_s)
    }

    fn verify<'a>(
        options: &'a MailgunConfig,
        secrets: &[SecretCandidate<'a>],
        _headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, body, now)
    }

    fn prepare(_: &MailgunConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    /// No header: the signature travels in the body ([`Scheme::sign_body`]).
    fn sign(
        _: &MailgunConfig,
        secret: &[u8],
        _body: &[u8],
        _url: &str,
        _now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        hmac_sha256(secret, &[]).ok_or(SignError::InvalidSecret)?;
        Ok(Vec::new())
    }

    /// `body`, a JSON object, with its `signature` member set to a signature of `now`
    /// and `msg_id` as the token; the other members are kept (re-serialised).
    fn sign_body(
        _: &MailgunConfig,
        secret: &[u8],
        body: &[u8],
        now: i64,
        msg_id: &str,
    ) -> Result<Option<Vec<u8>>, SignError> {
        let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
            return Err(SignError::BodyNotAnObject);
        };
        let ts = now.to_string();
        let mac = hmac_sha256(secret, &[ts.as_bytes(), msg_id.as_bytes()])
            .ok_or(SignError::InvalidSecret)?;
        object.insert(
            "signature".to_owned(),
            json!({"timestamp": ts, "token": msg_id, "signature": hex::encode(mac)}),
        );
        serde_json::to_vec(&object)
            .map(Some)
            .map_err(|_| SignError::BodyNotAnObject)
    }

    fn event_name(_: &MailgunConfig) -> EventName<'static> {
        EventName::Body
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<MailgunConfig> {
        vec![MailgunConfig::default(), MailgunConfig { tolerance_s: 60 }]
    }
}
