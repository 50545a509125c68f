//! `hmac`: a sender-defined HMAC scheme (SPEC §7.1), for senders without a verifier of
//! their own. No official library exists to mirror, so the rules are ours:
//! - the prefix must match exactly (case-sensitive), then hex of either case (decoded, so
//!   the digest is compared, not its spelling) or standard base64, padded or not;
//! - a decoded MAC of the wrong length is malformed, not merely a mismatch;
//! - the timestamp window is symmetric (`tolerance_s` either way), as Standard Webhooks.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use http::HeaderMap;

use super::config::{prepare_hmac, HmacConfig, MacAlgorithm, MacEncoding};
use super::error::Rejection;
use super::headers::{optional_field, required, Configured, Key};
use super::mac::{
    any_eq, attempt, first_matching_secret, hmac, secret_hmac, Digest, MAX_DIGEST_LEN,
};
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
) -> Option<Digest> {
    let encoded = value.strip_prefix(prefix.unwrap_or(""))?;
    let len = digest_len(algorithm);
    // Room for the decoder's estimate of any base64 text that could decode to `len`
    // bytes; longer text decodes to more than a digest, so "too small" is "wrong length".
    let mut bytes = [0; MAX_DIGEST_LEN + 8];
    let decoded = match encoding {
        // Exactly `2 * len` hex digits of either case, else an error.
        MacEncoding::Hex => hex::decode_to_slice(encoded, &mut bytes[..len])
            .map(|()| len)
            .ok()?,
        MacEncoding::Base64 => LENIENT_BASE64.decode_slice(encoded, &mut bytes).ok()?,
    };
    (decoded == len).then(|| Digest::new(&bytes[..len]))
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
) -> Option<Digest> {
    let (parts, len) = signed(template, timestamp, body);
    hmac(config.algorithm, key, &parts[..len])
}

/// The signed content in parts (the first `len` of the array).
fn signed<'p>(
    template: &Template<'p>,
    timestamp: &'p str,
    body: &'p [u8],
) -> ([&'p [u8]; 5], usize) {
    let mut parts: [&[u8]; 5] = [&[]; 5];
    for (part, segment) in parts.iter_mut().zip(template.segments()) {
        *part = match segment {
            Segment::Literal(text) => text.as_bytes(),
            Segment::Timestamp => timestamp.as_bytes(),
            Segment::Body => body,
        };
    }
    (parts, template.segments().len())
}

fn configured<'c>(field: &'static str, raw: &'c Option<String>) -> Option<Configured<'c>> {
    raw.as_deref().map(|raw| Configured { field, raw })
}

pub(crate) fn verify<'a>(
    config: &'a HmacConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    // Cheap next to the MAC (no allocation), and it makes an unvalidated stored config
    // fail loudly.
    let template = prepare_hmac(config).map_err(Rejection::InvalidConfig)?;
    let signature = Configured {
        field: "header",
        raw: &config.header,
    };
    let value = required(headers, signature)?;
    let received = parse_signature(
        config.prefix.as_deref(),
        config.encoding,
        config.algorithm,
        value,
    )
    .ok_or_else(|| signature.reject(Rejection::MalformedHeader))?;
    let (raw_ts, signed_at) = match configured("timestamp_header", &config.timestamp_header) {
        Some(name) => {
            let raw = required(headers, name)?;
            let ts =
                parse_unix_seconds(raw).ok_or_else(|| name.reject(Rejection::MalformedHeader))?;
            if !within(ts, now, config.tolerance_s, Some(config.tolerance_s)) {
                return Err(Rejection::TimestampOutOfTolerance);
            }
            (raw, Some(ts))
        }
        None => ("", None),
    };
    let dedup_key = configured("dedup_header", &config.dedup_header)
        .map(|n| optional_field(headers, n))
        .transpose()?
        .flatten();
    let event_name = configured("event_header", &config.event_header)
        .map(|n| optional_field(headers, n))
        .transpose()?
        .flatten();
    let (parts, len) = signed(&template, raw_ts, body);
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let expected = secret_hmac(config.algorithm, secret, &parts[..len]);
        attempt(expected.is_some_and(|e| any_eq(e.as_slice(), [received.as_slice()])))
    })?;
    Ok(Verified {
        secret_id,
        dedup_key,
        event_name,
        signed_at,
        handshake: None,
    })
}
