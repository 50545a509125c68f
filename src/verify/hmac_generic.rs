//! `hmac`: a sender-defined HMAC scheme (SPEC §7.1), for senders without a verifier of
//! their own. No official library exists to mirror, so the rules are ours:
//! - the prefix must match exactly (case-sensitive), then hex of either case (decoded, so
//!   the digest is compared, not its spelling) or standard base64, padded or not;
//! - a decoded MAC of the wrong length is malformed, not merely a mismatch;
//! - the timestamp window is symmetric (`tolerance_s` either way), as Standard Webhooks.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use http::{HeaderMap, HeaderName};

use super::config::{header_name, validate_hmac, HmacConfig, MacAlgorithm, MacEncoding};
use super::error::Rejection;
use super::headers::{optional_owned, required};
use super::mac::{any_eq, attempt, first_matching_secret, hmac};
use super::template::{Segment, Template};
use super::timestamp::{parse_unix_seconds, within};
use super::{SecretCandidate, Verified};

const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn digest_len(algorithm: MacAlgorithm) -> usize {
    match algorithm {
        MacAlgorithm::Sha256 => 32,
        MacAlgorithm::Sha512 => 64,
    }
}

/// The MAC bytes in a header value, or `None` when the prefix, encoding or length is wrong.
pub(crate) fn parse_signature(
    prefix: Option<&str>,
    encoding: MacEncoding,
    algorithm: MacAlgorithm,
    value: &str,
) -> Option<Vec<u8>> {
    let encoded = value.strip_prefix(prefix.unwrap_or(""))?;
    let mac = match encoding {
        MacEncoding::Hex => hex::decode(encoded).ok()?,
        MacEncoding::Base64 => LENIENT_BASE64.decode(encoded).ok()?,
    };
    (mac.len() == digest_len(algorithm)).then_some(mac)
}

/// The encoded header value a sender would send for `mac`.
pub(crate) fn encode_signature(config: &HmacConfig, mac: &[u8]) -> String {
    let encoded = match config.encoding {
        MacEncoding::Hex => hex::encode(mac),
        MacEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(mac),
    };
    format!("{}{encoded}", config.prefix.as_deref().unwrap_or(""))
}

/// The MAC of `signed_content` with `timestamp` and `body` substituted.
pub(crate) fn compute(
    config: &HmacConfig,
    template: &Template<'_>,
    key: &[u8],
    timestamp: &str,
    body: &[u8],
) -> Option<Vec<u8>> {
    let parts: Vec<&[u8]> = template
        .segments
        .iter()
        .map(|segment| match segment {
            Segment::Literal(text) => text.as_bytes(),
            Segment::Timestamp => timestamp.as_bytes(),
            Segment::Body => body,
        })
        .collect();
    hmac(config.algorithm, key, &parts)
}

pub(crate) fn verify(
    config: &HmacConfig,
    secrets: &[SecretCandidate<'_>],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    // Cheap next to the MAC, and it makes an unvalidated stored config fail loudly.
    validate_hmac(config).map_err(Rejection::InvalidConfig)?;
    let names = Names::resolve(config)?;
    let template = Template::parse(&config.signed_content).map_err(Rejection::InvalidConfig)?;
    let value = required(headers, &names.signature)?;
    let received = parse_signature(
        config.prefix.as_deref(),
        config.encoding,
        config.algorithm,
        value,
    )
    .ok_or_else(|| Rejection::MalformedHeader(names.signature.clone()))?;
    let (raw_ts, signed_at) = match &names.timestamp {
        Some(name) => {
            let raw = required(headers, name)?;
            let ts =
                parse_unix_seconds(raw).ok_or_else(|| Rejection::MalformedHeader(name.clone()))?;
            if !within(ts, now, config.tolerance_s, Some(config.tolerance_s)) {
                return Err(Rejection::TimestampOutOfTolerance);
            }
            (raw, Some(ts))
        }
        None => ("", None),
    };
    let dedup_key = names
        .dedup
        .as_ref()
        .map(|n| optional_owned(headers, n))
        .transpose()?
        .flatten();
    let event_name = names
        .event
        .as_ref()
        .map(|n| optional_owned(headers, n))
        .transpose()?
        .flatten();
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |key| {
        let expected = compute(config, &template, key, raw_ts, body);
        attempt(expected.is_some_and(|e| any_eq(&e, [received.as_slice()])))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key,
        event_name,
        signed_at,
        handshake: None,
    })
}

/// The configured header names, parsed; a config that skipped `validate()` is refused.
pub(crate) struct Names {
    pub(crate) signature: HeaderName,
    pub(crate) timestamp: Option<HeaderName>,
    pub(crate) dedup: Option<HeaderName>,
    pub(crate) event: Option<HeaderName>,
}

impl Names {
    pub(crate) fn resolve(config: &HmacConfig) -> Result<Self, Rejection> {
        let optional =
            |field, raw: &Option<String>| raw.as_deref().map(|r| header_name(field, r)).transpose();
        let resolve = || {
            Ok(Self {
                signature: header_name("header", &config.header)?,
                timestamp: optional("timestamp_header", &config.timestamp_header)?,
                dedup: optional("dedup_header", &config.dedup_header)?,
                event: optional("event_header", &config.event_header)?,
            })
        };
        resolve().map_err(Rejection::InvalidConfig)
    }
}
