//! `bearer`: a shared token. `Authorization: Bearer <token>` (RFC 6750: scheme
//! case-insensitive, then one or more spaces), or the raw token in any other header.
//!
//! Tokens are compared as SHA-256 digests in constant time, so neither the content nor
//! the length of a secret leaks through timing.

use std::borrow::Cow;

use http::{header::AUTHORIZATION, HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use super::config::{header_name, BearerConfig};
use super::error::Rejection;
use super::headers::{optional_field, required};
use super::mac::{any_eq, attempt, first_matching_secret};
use super::prepared::PreparedSecret;
use super::{SecretCandidate, Verified};

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

pub(crate) fn verify<'a>(
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
        signed_at: None,
        handshake: None,
    })
}
