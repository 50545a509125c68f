//! `hmac`: a sender-defined HMAC scheme (SPEC §7.1), for senders without a verifier of
//! their own. No official library exists to mirror, so the rules are ours:
//! - the prefix must match exactly (case-sensitive), then hex of either case (decoded, so
//!   the digest is compared, not its spelling) or standard base64, padded or not;
//! - a decoded MAC of the wrong length is malformed, not merely a mismatch;
//! - the timestamp window is symmetric (`tolerance_s` either way), as Standard Webhooks.

use std::time::Duration;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::config::{check_header_name, optional_header_name, MacAlgorithm, MacEncoding};
use super::error::{ConfigError, Rejection, SignError};
use super::headers::{optional_field, required, Configured, Key};
use super::mac::{
    any_eq, attempt, first_matching_secret, hmac, secret_hmac, Digest, MAX_DIGEST_LEN,
};
use super::prepared::PreparedSecret;
use super::scheme::{checked, EventName, Headers, Scheme};
use super::template::{Segment, Template};
use super::timestamp::{check_window, parse_unix_seconds};
use super::{SecretCandidate, Verified};

/// The scheme's options: the `verifier` object of SPEC §7.1 beside `"type": "hmac"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// Header carrying the MAC, e.g. `X-Signature`.
    pub header: String,
    /// Literal text before the encoded MAC, e.g. `sha256=`; `None` or empty = no prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub encoding: MacEncoding,
    #[serde(default)]
    pub algorithm: MacAlgorithm,
    /// Template with the placeholders `{body}` (exactly once) and `{timestamp}`.
    #[serde(default = "default_signed_content")]
    pub signed_content: String,
    /// Required exactly when `signed_content` uses `{timestamp}`.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// Accepted clock skew either way, in seconds (wire name per SPEC §7.1).
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
    #[serde(default)]
    pub dedup_header: Option<String>,
    #[serde(default)]
    pub event_header: Option<String>,
}

impl HmacConfig {
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_s)
    }
}

fn default_signed_content() -> String {
    "{body}".to_owned()
}
fn default_tolerance_s() -> u64 {
    300
}

/// Longest accepted `tolerance_s`: a day; anything longer is a replay window, not skew.
const MAX_TOLERANCE_S: u64 = 86_400;

/// Validates an `hmac` configuration and returns its parsed `signed_content`. Allocates
/// nothing: the verifier runs it on every request.
pub(crate) fn prepare_hmac(c: &HmacConfig) -> Result<Template<'_>, ConfigError> {
    check_header_name("header", &c.header)?;
    if let Some(prefix) = c.prefix.as_deref() {
        // Header values are trimmed and must be visible ASCII, so such a prefix never matches.
        let printable = prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !printable || prefix.trim() != prefix {
            return Err(ConfigError::new(
                "prefix",
                "must be visible ASCII without surrounding spaces",
            ));
        }
    }
    let template = Template::parse(&c.signed_content)?;
    match (template.uses_timestamp(), c.timestamp_header.as_deref()) {
        (true, None) => {
            return Err(ConfigError::new(
                "timestamp_header",
                "required when signed_content uses {timestamp}",
            ))
        }
        // A timestamp outside the MAC could be replaced freely: checking it would be theatre.
        (false, Some(_)) => {
            return Err(ConfigError::new(
                "signed_content",
                "must use {timestamp} when timestamp_header is set",
            ))
        }
        (true, Some(ts)) => {
            check_header_name("timestamp_header", ts)?;
            // Header names are case-insensitive (`HeaderName` lower-cases them).
            if ts.eq_ignore_ascii_case(&c.header) {
                return Err(ConfigError::new(
                    "timestamp_header",
                    "must differ from the signature header",
                ));
            }
            if c.tolerance_s == 0 || c.tolerance_s > MAX_TOLERANCE_S {
                return Err(ConfigError::new("tolerance_s", "must be 1..=86400"));
            }
        }
        (false, None) => {}
    }
    optional_header_name("dedup_header", c.dedup_header.as_deref())?;
    optional_header_name("event_header", c.event_header.as_deref())?;
    Ok(template)
}

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

fn verify<'a>(
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
    let raw_ts = match configured("timestamp_header", &config.timestamp_header) {
        Some(name) => {
            let raw = required(headers, name)?;
            let ts =
                parse_unix_seconds(raw).ok_or_else(|| name.reject(Rejection::MalformedHeader))?;
            check_window(ts, now, config.tolerance_s, Some(config.tolerance_s))?;
            raw
        }
        None => "",
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
        handshake: None,
    })
}

/// The `hmac` scheme (its line in `schemes.rs`).
pub(crate) struct Hmac;

impl Scheme for Hmac {
    type Options = HmacConfig;
    // The operator names the headers: the signature and timestamp ones in the options,
    // never forwarded; the event and de-dup ones in `configured_headers`.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &[];

    fn validate(options: &HmacConfig) -> Result<(), ConfigError> {
        prepare_hmac(options).map(drop)
    }

    fn verify<'a>(
        options: &'a HmacConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers, body, now)
    }

    fn prepare(options: &HmacConfig, secret: &[u8]) -> PreparedSecret {
        match options.algorithm {
            MacAlgorithm::Sha256 => PreparedSecret::for_hmac_sha256(secret),
            MacAlgorithm::Sha512 => PreparedSecret::for_hmac_sha512(secret),
        }
    }

    fn sign(
        options: &HmacConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        let ts = now.to_string();
        let template = prepare_hmac(options).map_err(SignError::InvalidConfig)?;
        let mac = compute(options, &template, secret, &ts, body).ok_or(SignError::InvalidSecret)?;
        let mut headers = vec![(
            options.header.clone(),
            encode_signature(options, mac.as_slice()),
        )];
        if let Some(name) = &options.timestamp_header {
            headers.push((name.clone(), ts));
        }
        if let Some(name) = &options.dedup_header {
            headers.push((name.clone(), checked(msg_id, "dedup_header")?));
        }
        Ok(headers)
    }

    fn event_name(options: &HmacConfig) -> EventName<'_> {
        match options.event_header.as_deref() {
            Some(name) => EventName::Header {
                name,
                example: None,
            },
            None => EventName::Unnamed,
        }
    }

    fn configured_signature_header(options: &HmacConfig) -> Option<&str> {
        Some(&options.header)
    }

    fn configured_headers(options: &HmacConfig) -> [Option<&str>; 2] {
        [
            options.event_header.as_deref(),
            options.dedup_header.as_deref(),
        ]
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<HmacConfig> {
        let hmac = |prefix: Option<&str>, encoding, algorithm, timestamp: bool| HmacConfig {
            header: "X-Signature".to_owned(),
            prefix: prefix.map(str::to_owned),
            encoding,
            algorithm,
            signed_content: if timestamp {
                "{timestamp}.{body}"
            } else {
                "{body}"
            }
            .to_owned(),
            timestamp_header: timestamp.then(|| "X-Timestamp".to_owned()),
            tolerance_s: 300,
            dedup_header: Some("X-Delivery".to_owned()),
            event_header: Some("X-Event".to_owned()),
        };
        vec![
            hmac(
                Some("sha256="),
                MacEncoding::Hex,
                MacAlgorithm::Sha256,
                false,
            ),
            hmac(None, MacEncoding::Base64, MacAlgorithm::Sha512, true),
        ]
    }
}
