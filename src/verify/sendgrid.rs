//! SendGrid event webhook: `X-Twilio-Email-Event-Webhook-Signature: <b64>` = ECDSA
//! P-256/SHA-256 signature (DER) of timestamp + body, with
//! `X-Twilio-Email-Event-Webhook-Timestamp`; the source's secret is the **public**
//! verification key SendGrid shows under Mail Settings (base64 DER, SubjectPublicKeyInfo).
//!
//! Mirrors `sendgrid` 6.12.5 (PyPI), `sendgrid/helpers/eventwebhook/__init__.py`
//! (`EventWebhook.convert_public_key_to_ecdsa` and `verify_signature`), which verifies
//! with `cryptography` (OpenSSL): the message is the timestamp text as sent followed by
//! the raw body; the signature is DER after base64; no replay window by default (the
//! library has none).
//!
//! Choices: the base64 must be padded standard base64 (the library's non-validating
//! `b64decode` drops characters outside the alphabet); the DER must be strict, as
//! OpenSSL's. A provided key must decode to a P-256 point. hookgate cannot make this
//! secret: the operator provides it, and `hookgate sign` takes the private key (base64
//! PKCS#8 DER). SendGrid's docs leave the replay window to the receiver: the option
//! `tolerance_s` sets one, either way (a timestamp that is not integer seconds is then
//! malformed), checked before the signature. SendGrid's body is an array of events: no
//! de-dup key or event name is read from it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::{ConfigError, Rejection, SignError};
use super::headers::Lines;
use super::mac::{attempt, first_matching_secret, Attempt};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName =
    HeaderName::from_static("x-twilio-email-event-webhook-signature");
pub(crate) static TIMESTAMP: HeaderName =
    HeaderName::from_static("x-twilio-email-event-webhook-timestamp");

/// The scheme's options: `{"type": "sendgrid"}` alone verifies as the library does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendgridConfig {
    /// Refuse a timestamp more than this many seconds away from now, either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_s: Option<u64>,
}

/// Longest accepted `tolerance_s`: a day; anything longer is no replay window.
const MAX_TOLERANCE_S: u64 = 86_400;

/// The public key a secret spells: base64 of a P-256 SubjectPublicKeyInfo in DER.
pub(crate) fn public_key(secret: &[u8]) -> Option<VerifyingKey> {
    let der = STANDARD.decode(secret).ok()?;
    VerifyingKey::from_public_key_der(&der).ok()
}

fn verify<'a>(
    options: &SendgridConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let lines = Lines::read(headers, [&SIGNATURE, &TIMESTAMP]);
    let received = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    let timestamp = lines
        .single(1)?
        .ok_or_else(|| Rejection::MissingHeader(TIMESTAMP.clone()))?;
    if let Some(tolerance) = options.tolerance_s {
        let at = parse_unix_seconds(timestamp)
            .ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
        check_window(at, now, tolerance, Some(tolerance))?;
    }
    let signature = STANDARD
        .decode(received)
        .ok()
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| Rejection::MalformedHeader(SIGNATURE.clone()))?;
    let message = [timestamp.as_bytes(), body].concat();
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let verified = match secret.prepared.and_then(PreparedSecret::p256) {
            Some(key) => key.verify(&message, &signature),
            None => match public_key(secret.value) {
                Some(key) => key.verify(&message, &signature),
                None => return Attempt::Unusable,
            },
        };
        attempt(verified.is_ok())
    })?;
    Ok(Verified {
        secret_id,
        dedup_key: None,
        event_name: None,
        handshake: None,
    })
}

/// SendGrid's scheme (its line in `schemes.rs`).
pub(crate) struct Sendgrid;

impl Scheme for Sendgrid {
    type Options = SendgridConfig;
    const FORWARDED: &'static [&'static str] = &["x-twilio-email-event-webhook-timestamp"];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-twilio-email-event-webhook-signature"];

    fn validate(options: &SendgridConfig) -> Result<(), ConfigError> {
        match options.tolerance_s {
            Some(t) if t == 0 || t > MAX_TOLERANCE_S => {
                Err(ConfigError::new("tolerance_s", "must be 1..=86400"))
            }
            _ => Ok(()),
        }
    }

    fn verify<'a>(
        options: &'a SendgridConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, now)
    }

    fn prepare(_: &SendgridConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_p256(secret, public_key)
    }

    /// `secret` is the private key: base64 of a P-256 PKCS#8 DER.
    fn sign(
        _: &SendgridConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let der = STANDARD
            .decode(secret)
            .map_err(|_| SignError::InvalidSecret)?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|_| SignError::InvalidSecret)?;
        let ts = now.to_string();
        let signature: DerSignature = key.sign(&[ts.as_bytes(), body].concat());
        Ok(vec![
            header(
                "X-Twilio-Email-Event-Webhook-Signature",
                &STANDARD.encode(signature.as_bytes()),
            )?,
            header("X-Twilio-Email-Event-Webhook-Timestamp", &ts)?,
        ])
    }

    fn event_name(_: &SendgridConfig) -> EventName<'static> {
        EventName::Unnamed
    }

    fn new_secret(_random: &mut dyn RngCore) -> Option<String> {
        None
    }

    fn check_secret(value: &str) -> Result<(), &'static str> {
        match public_key(value.as_bytes()) {
            Some(_) => Ok(()),
            None => Err("must be SendGrid's verification key: a P-256 public key in base64 DER"),
        }
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<SendgridConfig> {
        vec![
            SendgridConfig::default(),
            SendgridConfig {
                tolerance_s: Some(300),
            },
        ]
    }

    /// A fixed P-256 pair made with `cryptography` (private scalar 0x1f2e…7988).
    #[cfg(any(test, fuzzing))]
    fn test_key_pair() -> Option<(&'static str, &'static str)> {
        Some((
            "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHy49TFtqeYgfLj1MW2p5iB8uPUxbanmIHy49TFtqeYihRANCAAS9fHO4iy6bTO2mICKy2ovhMZOltW7cJuffeELiTNC16wYFrae9qDrGorgNfjFAQPpH/xa4O6yFztsBRFG7fOca",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvXxzuIsum0ztpiAistqL4TGTpbVu3Cbn33hC4kzQtesGBa2nvag6xqK4DX4xQED6R/8WuDushc7bAURRu3znGg==",
        ))
    }
}
