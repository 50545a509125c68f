//! Signers: the headers a real sender would send. Used by `hookgate sign`, by outbound
//! execution hooks (Standard Webhooks) and by tests.

use std::fmt;

use hmac::Hmac;
use http::HeaderValue;
use sha2::Sha256;

use super::config::{HmacConfig, VerifierConfig};
use super::error::SignError;
use super::{bearer, hmac_generic, mac, shopify, slack, standard_webhooks, whsec};

type Headers = Vec<(String, String)>;

/// Signs `body` as `config`'s sender would at `now_unix_s`, with `msg_id` as the
/// delivery/message id where the scheme carries one in a header. Event-name headers
/// (`X-GitHub-Event`, `X-Shopify-Topic`, an `event_header`) are not signed by any
/// sender, so they are left to the caller.
pub fn sign(
    config: &VerifierConfig,
    secret: &[u8],
    body: &[u8],
    now_unix_s: i64,
    msg_id: &str,
) -> Result<Headers, SignError> {
    let ts = now_unix_s.to_string();
    let hmac256 = |parts: &[&[u8]]| mac::hmac_sha256(secret, parts).ok_or(SignError::InvalidSecret);
    let headers = match config {
        VerifierConfig::Github => vec![
            header("X-GitHub-Delivery", msg_id)?,
            header(
                "X-Hub-Signature-256",
                &format!("sha256={}", hex::encode(hmac256(&[body])?)),
            )?,
        ],
        VerifierConfig::Stripe => {
            let v1 = hex::encode(hmac256(&[ts.as_bytes(), b".", body])?);
            vec![header("Stripe-Signature", &format!("t={ts},v1={v1}"))?]
        }
        VerifierConfig::StandardWebhooks => vec![
            header("webhook-id", msg_id)?,
            header("webhook-timestamp", &ts)?,
            header(
                "webhook-signature",
                &standard_webhooks_signature(msg_id, now_unix_s, body, &[secret])?,
            )?,
        ],
        VerifierConfig::Shopify => vec![
            header("X-Shopify-Webhook-Id", msg_id)?,
            header(
                "X-Shopify-Hmac-Sha256",
                &shopify::signature_for(secret, body).ok_or(SignError::InvalidSecret)?,
            )?,
        ],
        VerifierConfig::Slack => vec![
            header("X-Slack-Request-Timestamp", &ts)?,
            header(
                "X-Slack-Signature",
                &slack::signature_for(secret, &ts, body).ok_or(SignError::InvalidSecret)?,
            )?,
        ],
        VerifierConfig::Hmac(c) => sign_hmac(c, secret, body, &ts, msg_id)?,
        VerifierConfig::Bearer(c) => {
            config.validate().map_err(SignError::InvalidConfig)?;
            let token = std::str::from_utf8(secret).map_err(|_| SignError::InvalidSecret)?;
            let is_authorization = c.header.eq_ignore_ascii_case("authorization");
            let value = if is_authorization {
                format!("Bearer {token}")
            } else {
                token.to_owned()
            };
            // A token that would not survive the round trip through the verifier is refused.
            let parsed = http::HeaderName::from_bytes(c.header.as_bytes())
                .ok()
                .and_then(|name| bearer::parse_token(&name, value.trim()).map(str::to_owned));
            if parsed.as_deref() != Some(token) {
                return Err(SignError::InvalidSecret);
            }
            let mut headers = vec![(c.header.clone(), value)];
            if let Some(dedup) = &c.dedup_header {
                headers.push((dedup.clone(), checked(msg_id, "dedup_header")?));
            }
            headers
        }
    };
    Ok(headers)
}

/// The Standard Webhooks `webhook-signature` value: one `v1,<b64>` per secret, joined by
/// single spaces, so receivers holding any one of the secrets verify (SPEC §5 rotation).
/// `secrets` are full `whsec_…` strings.
pub fn standard_webhooks_signature(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[&[u8]],
) -> Result<String, SignError> {
    let keys = secrets
        .iter()
        .map(|secret| SigningKey::new(secret))
        .collect::<Result<Vec<_>, _>>()?;
    standard_webhooks_signature_with(msg_id, timestamp, body, &keys)
}

/// [`standard_webhooks_signature`] from keys made ready beforehand.
pub fn standard_webhooks_signature_with(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    keys: &[SigningKey],
) -> Result<String, SignError> {
    if keys.is_empty() {
        return Err(SignError::NoSecret);
    }
    // `v1,` + 44 base64 characters, and a space between two.
    let mut value = String::with_capacity(keys.len() * 49);
    for key in keys {
        let signature = standard_webhooks::signature_from(&key.0, msg_id, timestamp, body);
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str("v1,");
        // Base64 is ASCII, so this cannot fail; refuse rather than panic all the same.
        value.push_str(std::str::from_utf8(&signature).map_err(|_| SignError::InvalidSecret)?);
    }
    Ok(value)
}

/// An outbound `whsec_…` secret made ready to sign with: its base64 decoded and the
/// HMAC key schedule computed once (the delivery workers do it once per endpoint per
/// claimed batch), so each attempt's signature starts from a copy of that state rather
/// than decoding the secret again. Derived from the secret, so as sensitive: it is never
/// printed.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    /// `InvalidSecret` when the part after `whsec_` is not base64 or is empty, as every
    /// Standard Webhooks library refuses it.
    pub fn new(secret: &[u8]) -> Result<Self, SignError> {
        whsec::keyed(secret)
            .map(Self)
            .ok_or(SignError::InvalidSecret)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn sign_hmac(
    c: &HmacConfig,
    secret: &[u8],
    body: &[u8],
    ts: &str,
    msg_id: &str,
) -> Result<Headers, SignError> {
    let template = super::config::prepare_hmac(c).map_err(SignError::InvalidConfig)?;
    let mac =
        hmac_generic::compute(c, &template, secret, ts, body).ok_or(SignError::InvalidSecret)?;
    let mut headers = vec![(
        c.header.clone(),
        hmac_generic::encode_signature(c, mac.as_slice()),
    )];
    if let Some(name) = &c.timestamp_header {
        headers.push((name.clone(), ts.to_owned()));
    }
    if let Some(name) = &c.dedup_header {
        headers.push((name.clone(), checked(msg_id, "dedup_header")?));
    }
    Ok(headers)
}

fn header(name: &'static str, value: &str) -> Result<(String, String), SignError> {
    Ok((name.to_owned(), checked(value, name)?))
}

/// `value` if the verifier would read it back unchanged: visible ASCII and spaces, no
/// line breaks, nothing to trim, not empty.
fn checked(value: &str, name: &'static str) -> Result<String, SignError> {
    let readable = HeaderValue::from_str(value).is_ok_and(|v| v.to_str().is_ok());
    let valid = readable && !value.is_empty() && value.trim() == value;
    valid
        .then(|| value.to_owned())
        .ok_or(SignError::InvalidHeaderValue(name))
}
