//! `bearer`: a shared token. `Authorization: Bearer <token>` (RFC 6750: scheme
//! case-insensitive, then one or more spaces), or the raw token in any other header.
//!
//! Tokens are compared as SHA-256 digests in constant time, so neither the content nor
//! the length of a secret leaks through timing.

use std::borrow::Cow;

use http::{header::AUTHORIZATION, HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{check_header_name, header_name, optional_header_name};
use super::error::{ConfigError, Rejection, SignError};
use super::headers::{optional_field, required};
use super::mac::{any_eq, attempt, first_matching_secret};
use super::prepared::PreparedSecret;
use super::scheme::{checked, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

/// The scheme's options: a shared token sent verbatim by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerConfig {
    /// `Authorization` expects `Bearer <token>`; any other header carries the raw token.
    #[serde(default = "default_bearer_header")]
    pub header: String,
    #[serde(default)]
    pub dedup_header: Option<String>,
    #[serde(default)]
    pub event_header: Option<String>,
}

impl Default for BearerConfig {
    fn default() -> Self {
        Self {
            header: default_bearer_header(),
            dedup_header: None,
            event_header: None,
        }
    }
}

fn default_bearer_header() -> String {
    "Authorization".to_owned()
}

/// The token in a header value; `None` when `Authorization` does not hold a Bearer token.
pub(crate) fn parse_token<'v>(header: &HeaderName, value: &'v str) -> Option<&'v str> {
    if *header != AUTHORIZATION {
        return Some(value);
    }
    let (scheme, rest) = value.split_once(' ')?;
    let token = rest.trim_start_matches(' ');
    let valid = scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ');
    valid.then_some(token)
}

fn verify<'a>(
    config: &BearerConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
) -> Result<Verified<'a>, Rejection> {
    let name = |field, raw: &str| header_name(field, raw).map_err(Rejection::InvalidConfig);
    let optional = |field, raw: &Option<String>| -> Result<Option<Cow<'a, str>>, Rejection> {
        match raw {
            Some(raw) => optional_field(headers, &name(field, raw)?),
            None => Ok(None),
        }
    };
    let header = name("header", &config.header)?;
    let value = required(headers, &header)?;
    let token =
        parse_token(&header, value).ok_or_else(|| Rejection::MalformedHeader(header.clone()))?;
    let dedup_key = optional("dedup_header", &config.dedup_header)?;
    let event_name = optional("event_header", &config.event_header)?;
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

/// The `bearer` scheme (its line in `schemes.rs`).
pub(crate) struct Bearer;

impl Scheme for Bearer {
    type Options = BearerConfig;
    // The operator names the headers: the token's in the options, never forwarded; the
    // event and de-dup ones in `configured_headers`.
    const FORWARDED: &'static [&'static str] = &[];
    const SIGNATURE_HEADERS: &'static [&'static str] = &[];

    fn validate(options: &BearerConfig) -> Result<(), ConfigError> {
        check_header_name("header", &options.header)?;
        optional_header_name("dedup_header", options.dedup_header.as_deref())?;
        optional_header_name("event_header", options.event_header.as_deref())?;
        // The token's header read as a de-dup key or event name would be stored with
        // the event and forwarded with the run: the secret, in the clear.
        for (field, named) in [
            ("dedup_header", &options.dedup_header),
            ("event_header", &options.event_header),
        ] {
            if named
                .as_deref()
                .is_some_and(|name| name.eq_ignore_ascii_case(&options.header))
            {
                return Err(ConfigError::new(field, "must not be the token's header"));
            }
        }
        Ok(())
    }

    fn verify<'a>(
        options: &'a BearerConfig,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        _body: &'a [u8],
        _url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, headers)
    }

    fn prepare(_options: &BearerConfig, secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_token(secret)
    }

    fn sign(
        options: &BearerConfig,
        secret: &[u8],
        _body: &[u8],
        _url: &str,
        _now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        Self::validate(options).map_err(SignError::InvalidConfig)?;
        let token = std::str::from_utf8(secret).map_err(|_| SignError::InvalidSecret)?;
        let is_authorization = options.header.eq_ignore_ascii_case("authorization");
        let value = if is_authorization {
            format!("Bearer {token}")
        } else {
            token.to_owned()
        };
        // A token that would not survive the round trip through the verifier is refused.
        let parsed = HeaderName::from_bytes(options.header.as_bytes())
            .ok()
            .and_then(|name| parse_token(&name, value.trim()).map(str::to_owned));
        if parsed.as_deref() != Some(token) {
            return Err(SignError::InvalidSecret);
        }
        let mut headers = vec![(options.header.clone(), value)];
        if let Some(dedup) = &options.dedup_header {
            headers.push((dedup.clone(), checked(msg_id, "dedup_header")?));
        }
        Ok(headers)
    }

    fn event_name(options: &BearerConfig) -> EventName<'_> {
        match options.event_header.as_deref() {
            Some(name) => EventName::Header {
                name,
                example: None,
            },
            None => EventName::Unnamed,
        }
    }

    fn configured_signature_header(options: &BearerConfig) -> Option<&str> {
        Some(&options.header)
    }

    fn configured_headers(options: &BearerConfig) -> [Option<&str>; 2] {
        [
            options.event_header.as_deref(),
            options.dedup_header.as_deref(),
        ]
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<BearerConfig> {
        vec![
            BearerConfig::default(),
            BearerConfig {
                header: "X-Token".to_owned(),
                dedup_header: Some("X-Delivery".to_owned()),
                event_header: None,
            },
        ]
    }
}
