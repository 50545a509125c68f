//! HMAC computation, constant-time comparison and the try-every-secret loop.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::config::MacAlgorithm;
use super::error::Rejection;
use super::SecretCandidate;

/// HMAC over the concatenation of `parts`, fed piecewise so the body is never copied.
/// `None` only if the MAC refuses the key, which HMAC never does (any key length is valid);
/// callers treat it as "no match" rather than trusting that with a panic.
pub(crate) fn hmac(algorithm: MacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
    match algorithm {
        MacAlgorithm::Sha256 => hmac_sha256(key, parts).map(|m| m.to_vec()),
        MacAlgorithm::Sha512 => {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).ok()?;
            parts.iter().for_each(|p| mac.update(p));
            Some(mac.finalize().into_bytes().to_vec())
        }
    }
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    parts.iter().for_each(|p| mac.update(p));
    Some(mac.finalize().into_bytes().into())
}

/// Whether any of `received` equals `expected`, comparing every one of them in constant
/// time (lengths are public: they are fixed by the scheme).
pub(crate) fn any_eq<'r>(expected: &[u8], received: impl IntoIterator<Item = &'r [u8]>) -> bool {
    let mut hit = Choice::from(0);
    for candidate in received {
        hit |= expected.ct_eq(candidate);
    }
    hit.into()
}

/// What one secret candidate made of the request.
pub(crate) enum Attempt {
    Match,
    NoMatch,
    /// The candidate cannot be a key for this scheme (e.g. bad `whsec_` base64).
    Unusable,
}

/// Runs `attempt` for every candidate (no early exit, so timing does not tell which
/// position matched) and returns the id of the first that matched.
pub(crate) fn first_matching_secret(
    secrets: &[SecretCandidate<'_>],
    mismatch: Rejection,
    mut attempt: impl FnMut(&[u8]) -> Attempt,
) -> Result<String, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NoActiveSecret);
    }
    let mut matched: Option<&str> = None;
    let mut usable = false;
    for secret in secrets {
        match attempt(secret.value) {
            Attempt::Match => {
                usable = true;
                matched = matched.or(Some(secret.id));
            }
            Attempt::NoMatch => usable = true,
            Attempt::Unusable => {}
        }
    }
    match matched {
        Some(id) => Ok(id.to_owned()),
        None if usable => Err(mismatch),
        None => Err(Rejection::UnusableSecrets),
    }
}

/// `Match` when `ok`, else `NoMatch`, for closures that compute a plain boolean.
pub(crate) fn attempt(ok: bool) -> Attempt {
    if ok {
        Attempt::Match
    } else {
        Attempt::NoMatch
    }
}
