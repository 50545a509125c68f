//! HubSpot (v3): `X-HubSpot-Signature-v3: <b64>` = HMAC-SHA256(app client secret,
//! `POST` + URL + body + timestamp), `X-HubSpot-Request-Timestamp` in milliseconds.
//!
//! Mirrors `hubspot-api-client` 12.0.0 (PyPI), `hubspot/utils/signature.py`
//! (`Signature.is_valid` with `signature_version="v3"` and `get_signature`):
//! - the timestamp is checked first: refused unless `now - floor(ms / 1000)` is under
//!   300 s (`tolerance_s`, 300 by default: refused from that age on); a timestamp in the
//!   future is not refused (the library has no bound there);
//! - the signed text is the method (`POST`, the only one ingress takes), the URI as the
//!   sender called it, the raw body and the timestamp text as sent;
//! - the header is compared with the padded base64 of the digest as a string
//!   (`hmac.compare_digest`), so any other spelling is a mismatch.
//!
//! Choices: the URI is the source's `ingress_url` (under `HOOKGATE_PUBLIC_URL`) and the
//! request's query, signed as received: the library signs what it is given without the
//! percent-decoding of a few characters HubSpot's docs describe. The timestamp must be
//! plain integer milliseconds (the library's `float()` also takes `1e12` or `1.5`;
//! HubSpot sends neither). The v1/v2 signatures (`X-HubSpot-Signature`) are not
//! accepted: they are plain SHA-256 of the secret and the body, not a MAC. HubSpot's
//! body is an array of events: no de-dup key or event name is read from it.

use base64::Engine;
use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use super::error::{ConfigError, Rejection, SignError};
use super::headers::Lines;
use super::mac::{
    any_eq, attempt, canonical_base64_32, first_matching_secret, hmac_sha256, secret_sha256,
};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-hubspot-signature-v3");
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("x-hubspot-request-timestamp");

/// The scheme's options: the `verifier` object beside `"type": "hubspot"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotConfig {
    /// Age in seconds from which a request is refused (the library's
    /// `MAX_ALLOWED_TIMESTAMP`: `< 300 s` accepts 299 s, not 300 s).
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
}

impl Default for HubspotConfig {
    fn default() -> Self {
        Self {
            tolerance_s: default_tolerance_s(),
        }
    }
}

fn default_tolerance_s() -> u64 {
    300
}

/// The method signed: ingress answers only `POST`.
const METHOD: &[u8] = b"POST";

fn signed<'p>(url: &'p str, body: &'p [u8], timestamp: &'p str) -> [&'p [u8]; 4] {
    [METHOD, url.as_bytes(), body, timestamp.as_bytes()]
}

fn verify<'a>(
    config: &HubspotConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    check_tolerance(config.tolerance_s).map_err(Rejection::InvalidConfig)?;
    let lines = Lines::read(headers, [&TIMESTAMP, &SIGNATURE]);
    let raw_ts = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(TIMESTAMP.clone()))?;
    let millis =
        parse_unix_seconds(raw_ts).ok_or_else(|| Rejection::MalformedHeader(TIMESTAMP.clone()))?;
    let signed_at = millis / 1000;
    check_window(signed_at, now, config.tolerance_s - 1, None)?;
    let received = lines
        .single(1)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    let received = canonical_base64_32(received.as_bytes());
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_sha256(secret, &signed(url, body, raw_ts));
        attempt(expected.is_some_and(|e| any_eq(&e, received)))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key: None,
        event_name: None,
        handshake: None,
    })
}

/// HubSpot's scheme (its line in `schemes.rs`).
pub(crate) struct Hubspot;

impl Scheme for Hubspot {
    type Options = HubspotConfig;
    const FORWARDED: &'static [&'static str] =
        &["x-hubspot-request-timestamp", "x-hubspot-signature-version"];
    const SIGNATURE_HEADERS: &'static [&'static str] =
        &["x-hubspot-signature-v3", "x-hubspot-signature"];

    fn validate(options: &HubspotConfig) -> Result<(), ConfigError> {
        check_tolerance(options.tolerance_s)
    }

    fn verify<'a>(
        options: &'a HubspotConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, url, now)
    }

    fn prepare(_: &HubspotConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha256(secret)
    }

    fn sign(
        _: &HubspotConfig,
        secret: &[u8],
        body: &[u8],
        url: &str,
        now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        if url.is_empty() {
            return Err(SignError::NoUrl);
        }
        let ts = now.saturating_mul(1000).to_string();
        let mac = hmac_sha256(secret, &signed(url, body, &ts)).ok_or(SignError::InvalidSecret)?;
        let signature = base64::engine::general_purpose::STANDARD.encode(mac);
        Ok(vec![
            header("X-HubSpot-Request-Timestamp", &ts)?,
            header("X-HubSpot-Signature-v3", &signature)?,
        ])
    }

    fn event_name(_: &HubspotConfig) -> EventName<'static> {
        EventName::Unnamed
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<HubspotConfig> {
        vec![HubspotConfig::default(), HubspotConfig { tolerance_s: 60 }]
    }
}
