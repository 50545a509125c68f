//! Twilio: `X-Twilio-Signature: <b64>` = HMAC-SHA1(auth token, URL + form parameters),
//! the URL being the one Twilio called, query included.
//!
//! Mirrors `twilio` 9.13.0 (PyPI), `twilio/request_validator.py`
//! (`RequestValidator.validate` and `compute_signature`):
//! - the signed text is the URL, then for each parameter name in sorted order each of
//!   its distinct values in sorted order, `name` + `value` (form parameters as the
//!   framework decoded them: `+` is a space, `%xx` decoded);
//! - a JSON body comes with `bodySHA256=<hex>` in the URL's query: then the body's
//!   SHA-256 in lower-case hex must equal it and no parameters are signed;
//! - the URL is tried with and without its port (`:443` / `:80` added when absent,
//!   removed when present), since Twilio signs either;
//! - the header is compared with the padded base64 of the digest as a string, so any
//!   other spelling is a mismatch;
//! - `X-Twilio-Webhooks-Signature-Settings: …,algorithm=HMAC_SHA256` (a SharedKey)
//!   selects HMAC-SHA256, an unknown algorithm is refused, none means HMAC-SHA1.
//!
//! Choices: the URL is the source's `ingress_url` (under `HOOKGATE_PUBLIC_URL`) and the
//! request's query as received, not re-normalised as Python's `urlparse(…).geturl()`
//! would (it drops an empty `?`); without `bodySHA256` the body is read as a form
//! whatever its content type. Reading the parameters allocates (they are sorted); Twilio
//! is not a high-volume sender. De-dup key: `I-Twilio-Idempotency-Token`. Twilio names
//! no event.

use std::borrow::Cow;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use memchr::memchr;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::error::{Rejection, SignError};
use super::headers::Lines;
use super::mac::{any_eq, attempt, canonical_base64, first_matching_secret, lower_hex32, Digest};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-twilio-signature");
pub(crate) static SETTINGS: HeaderName =
    HeaderName::from_static("x-twilio-webhooks-signature-settings");
pub(crate) static IDEMPOTENCY: HeaderName = HeaderName::from_static("i-twilio-idempotency-token");

/// The MAC a request is signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
}

/// The algorithm the settings header names, as `get_signature_algorithm` reads it (the
/// first `algorithm=` part with a value, compared upper-cased); `None` if unknown.
pub(crate) fn algorithm(settings: Option<&str>) -> Option<Algorithm> {
    let named = settings.unwrap_or_default().split(',').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        let value = value.trim();
        (name.trim() == "algorithm" && !value.is_empty()).then_some(value)
    });
    match named.map(str::to_ascii_uppercase).as_deref() {
        None | Some("HMAC_SHA1") => Some(Algorithm::Sha1),
        Some("HMAC_SHA256") => Some(Algorithm::Sha256),
        Some(_) => None,
    }
}

/// The two spellings of `url` Twilio may have signed: without and with its port.
pub(crate) fn url_variants(url: &str) -> [Cow<'_, str>; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // A port is digits after the last `:` that is not inside an IPv6 literal.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let port_colon = authority.rfind(':').filter(|&colon| {
        colon >= host_start
            && !authority[colon..].contains(']')
            && authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
    });
    let port = port_colon.map(|colon| &authority[colon + 1..]);
    // Python's `uri.port` is falsy for an empty or zero port: as if there were none.
    match (port_colon, port.and_then(|p| p.parse::<u32>().ok())) {
        (Some(colon), Some(number)) if number != 0 => [
            Cow::Owned(format!("{scheme}://{}{tail}", &authority[..colon])),
            Cow::Borrowed(url),
        ],
        _ => {
            let default = if scheme == "https" { 443 } else { 80 };
            let with = format!("{scheme}://{authority}:{default}{tail}");
            [Cow::Borrowed(url), Cow::Owned(with)]
        }
    }
}

/// The first non-empty `bodySHA256` of the URL's query (`parse_qs` drops blank ones).
/// Only a pair holding `%` or `+` is decoded (as `form_urlencoded` decodes it): the
/// others read the same either way, and decoding every pair cost more than the MAC.
pub(crate) fn body_sha256(url: &str) -> Option<Cow<'_, str>> {
    // Byte searches for the ASCII separators: `str::split` and `contains` with a pattern
    // cost more per call than the URL's HMAC-SHA1 leaves (SPEC §10).
    let query = url.get(memchr(b'?', url.as_bytes())? + 1..)?;
    let mut rest = match memchr(b'#', query.as_bytes()) {
        Some(end) => query.get(..end)?,
        None => query,
    };
    loop {
        let (pair, next) = match memchr(b'&', rest.as_bytes()) {
            Some(at) => (rest.get(..at)?, rest.get(at + 1..)),
            None => (rest, None),
        };
        let escaped = pair
            .as_bytes()
            .iter()
            .fold(false, |escaped, &b| escaped | (b == b'%') | (b == b'+'));
        let parsed = match escaped {
            true => form_urlencoded::parse(pair.as_bytes()).next(),
            false => {
                let (name, value) = match memchr(b'=', pair.as_bytes()) {
                    Some(at) => (pair.get(..at)?, pair.get(at + 1..)?),
                    None => (pair, ""),
                };
                Some((Cow::Borrowed(name), Cow::Borrowed(value)))
            }
        };
        if let Some((name, value)) = parsed {
            if name == "bodySHA256" && !value.is_empty() {
                return Some(value);
            }
        }
        rest = next?;
    }
}

/// The form parameters as signed: sorted by name, then value, each pair once.
pub(crate) fn parameters(body: &[u8]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut pairs: Vec<_> = form_urlencoded::parse(body).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// What is signed after the URL: nothing for a JSON body, else the parameters.
enum Signed<'b> {
    Json,
    Form(Vec<(Cow<'b, str>, Cow<'b, str>)>),
}

impl<'b> Signed<'b> {
    /// `None` when the URL's `bodySHA256` does not match the body.
    fn read(url: &str, body: &'b [u8]) -> Option<Self> {
        match body_sha256(url) {
            // The library compares lower-case hex strings: only that spelling decodes.
            Some(expected) => {
                let digest: [u8; 32] = Sha256::digest(body).into();
                (lower_hex32(expected.as_bytes()) == Some(digest)).then_some(Self::Json)
            }
            None => Some(Self::Form(parameters(body))),
        }
    }

    fn feed(&self, mac: &mut impl Mac) {
        if let Self::Form(pairs) = self {
            for (name, value) in pairs {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
    }
}

/// The digest of `url` + `signed` under `secret`, from its prepared key when it has one.
fn digest(
    algorithm: Algorithm,
    secret: &SecretCandidate<'_>,
    url: &str,
    signed: &Signed<'_>,
) -> Option<Digest> {
    match algorithm {
        Algorithm::Sha1 => {
            let mut mac = match secret.prepared.and_then(PreparedSecret::sha1) {
                Some(ready) => ready.clone(),
                None => <Hmac<Sha1> as Mac>::new_from_slice(secret.value).ok()?,
            };
            mac.update(url.as_bytes());
            signed.feed(&mut mac);
            Some(Digest::new(&mac.finalize().into_bytes()))
        }
        Algorithm::Sha256 => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.value).ok()?;
            mac.update(url.as_bytes());
            signed.feed(&mut mac);
            Some(Digest::new(&mac.finalize().into_bytes()))
        }
    }
}

/// The received signature decoded, only in the spelling the library compares.
fn received(algorithm: Algorithm, text: &str) -> Option<Digest> {
    match algorithm {
        Algorithm::Sha1 => canonical_base64::<20>(text.as_bytes()).map(|d| Digest::new(&d)),
        Algorithm::Sha256 => canonical_base64::<32>(text.as_bytes()).map(|d| Digest::new(&d)),
    }
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &[u8],
    url: &str,
) -> Result<Verified<'a>, Rejection> {
    // One pass over the request's headers for the three names.
    let lines = Lines::read(headers, [&SIGNATURE, &SETTINGS, &IDEMPOTENCY]);
    let text = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    let algorithm = algorithm(lines.single(1)?)
        .ok_or_else(|| Rejection::UnsupportedVersion(SETTINGS.clone()))?;
    let received = received(algorithm, text);
    let idempotency = lines.single(2)?.map(Cow::Borrowed);
    // A body that does not match the URL's `bodySHA256` verifies with no secret.
    let signed = Signed::read(url, body);
    let received = received.as_ref().map(Digest::as_slice);
    // The URL's other spelling (port added or removed), built only if a secret needs it.
    let other = std::cell::OnceCell::new();
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let Some(signed) = &signed else {
            return attempt(false);
        };
        let matches = |url: &str| {
            digest(algorithm, secret, url, signed)
                .is_some_and(|expected| any_eq(expected.as_slice(), received))
        };
        // The other spelling is tried only when the URL as called does not match: which
        // spelling the sender signed is no secret.
        attempt(
            matches(url)
                || matches(other.get_or_init(|| {
                    let [without, with] = url_variants(url);
                    if without == url {
                        with
                    } else {
                        without
                    }
                })),
        )
    })?;
    Ok(Verified {
        secret_id,
        dedup_key: idempotency,
        event_name: None,
        handshake: None,
    })
}

/// Twilio's scheme (its line in `schemes.rs`).
pub(crate) struct Twilio;

impl Scheme for Twilio {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &[
        "i-twilio-idempotency-token",
        "x-twilio-webhooks-signature-settings",
        "x-home-region",
    ];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-twilio-signature"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers, body, url)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_hmac_sha1(secret)
    }

    /// Signs as the auth token does (HMAC-SHA1), the URL as given: a JSON body is
    /// signed as such when the URL carries its `bodySHA256`.
    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        url: &str,
        _now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        if url.is_empty() {
            return Err(SignError::NoUrl);
        }
        let signed = match body_sha256(url) {
            Some(_) => Signed::Json,
            None => Signed::Form(parameters(body)),
        };
        let candidate = SecretCandidate {
            id: "",
            value: secret,
            prepared: None,
        };
        let mac =
            digest(Algorithm::Sha1, &candidate, url, &signed).ok_or(SignError::InvalidSecret)?;
        let signature = base64::engine::general_purpose::STANDARD.encode(mac.as_slice());
        Ok(vec![
            header("X-Twilio-Signature", &signature)?,
            header("I-Twilio-Idempotency-Token", msg_id)?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Unnamed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variants_add_the_default_port_or_remove_the_given_one() {
        let cases = [
            (
                "https://h.example/p?a=1",
                "https://h.example/p?a=1",
                "https://h.example:443/p?a=1",
            ),
            (
                "http://h.example/p",
                "http://h.example/p",
                "http://h.example:80/p",
            ),
            (
                "https://h.example:8443/p",
                "https://h.example/p",
                "https://h.example:8443/p",
            ),
            (
                "https://h.example",
                "https://h.example",
                "https://h.example:443",
            ),
            (
                "http://[::1]:8080/p",
                "http://[::1]/p",
                "http://[::1]:8080/p",
            ),
            ("http://[::1]/p", "http://[::1]/p", "http://[::1]:80/p"),
            ("no scheme", "no scheme", "no scheme"),
        ];
        for (url, without, with) in cases {
            let [a, b] = url_variants(url);
            assert_eq!((a.as_ref(), b.as_ref()), (without, with), "{url}");
        }
    }

    #[test]
    fn algorithm_follows_the_settings_header_as_the_library_reads_it() {
        let cases = [
            (None, Some(Algorithm::Sha1)),
            (Some("key=k1"), Some(Algorithm::Sha1)),
            (
                Some("key=k1,algorithm=HMAC_SHA256"),
                Some(Algorithm::Sha256),
            ),
            (
                Some("algorithm = hmac_sha256 , key=k"),
                Some(Algorithm::Sha256),
            ),
            (
                Some("algorithm=,algorithm=HMAC_SHA1"),
                Some(Algorithm::Sha1),
            ),
            (Some("algorithm=HMAC_MD5"), None),
        ];
        for (settings, want) in cases {
            assert_eq!(algorithm(settings), want, "{settings:?}");
        }
    }
}
