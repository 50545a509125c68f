//! HMAC computation, constant-time encoding and comparison, and the try-every-secret loop.
//!
//! Nothing here allocates: digests, their hex/base64 spellings and decoded keys live on
//! the stack, and the HMAC is fed the signed parts piecewise so the body is never copied.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::config::MacAlgorithm;
use super::error::Rejection;
use super::SecretCandidate;

/// Longest digest of any algorithm we compute (SHA-512).
pub(crate) const MAX_DIGEST_LEN: usize = 64;

/// A digest of either algorithm, on the stack.
pub(crate) struct Digest {
    bytes: [u8; MAX_DIGEST_LEN],
    len: usize,
}

impl Digest {
    /// `bytes` must be at most [`MAX_DIGEST_LEN`] long; longer input is cut there.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        let len = bytes.len().min(MAX_DIGEST_LEN);
        let mut digest = Self {
            bytes: [0; MAX_DIGEST_LEN],
            len,
        };
        digest.bytes[..len].copy_from_slice(&bytes[..len]);
        digest
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// HMAC over the concatenation of `parts`, fed piecewise so the body is never copied.
/// `None` only if the MAC refuses the key, which HMAC never does (any key length is valid);
/// callers treat it as "no match" rather than trusting that with a panic.
pub(crate) fn hmac(algorithm: MacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Option<Digest> {
    let mut bytes = [0; MAX_DIGEST_LEN];
    let len = match algorithm {
        MacAlgorithm::Sha256 => {
            bytes[..32].copy_from_slice(&hmac_sha256(key, parts)?);
            32
        }
        MacAlgorithm::Sha512 => {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).ok()?;
            parts.iter().for_each(|p| mac.update(p));
            bytes.copy_from_slice(&mac.finalize().into_bytes());
            64
        }
    };
    Some(Digest { bytes, len })
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    parts.iter().for_each(|p| mac.update(p));
    Some(mac.finalize().into_bytes().into())
}

/// Lower-case hex of a SHA-256 digest. Arithmetic instead of a lookup table, so the
/// digest (which is what a forger wants) does not choose which memory is read.
pub(crate) fn hex32(digest: &[u8; 32]) -> [u8; 64] {
    let mut out = [0; 64];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = hex_digit(byte >> 4);
        pair[1] = hex_digit(byte & 0x0f);
    }
    out
}

fn hex_digit(nibble: u8) -> u8 {
    let n = i16::from(nibble);
    // 0..=9 → '0'..='9'; 10..=15 → 'a'..='f' (+39 when 9 - n is negative).
    (n + i16::from(b'0') + (((9 - n) >> 8) & 39)) as u8
}

/// Padded standard base64 of a SHA-256 digest, table-free like [`hex32`].
pub(crate) fn base64_32(digest: &[u8; 32]) -> [u8; 44] {
    let mut out = [b'='; 44];
    let (groups, tail) = digest.split_at(30);
    for (chars, group) in out.chunks_exact_mut(4).zip(groups.chunks_exact(3)) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        chars[0] = base64_digit(n >> 18);
        chars[1] = base64_digit(n >> 12);
        chars[2] = base64_digit(n >> 6);
        chars[3] = base64_digit(n);
    }
    let n = u32::from(tail[0]) << 16 | u32::from(tail[1]) << 8;
    out[40] = base64_digit(n >> 18);
    out[41] = base64_digit(n >> 12);
    out[42] = base64_digit(n >> 6);
    out
}

/// The standard alphabet's character for the low 6 bits of `bits`, without branches.
fn base64_digit(bits: u32) -> u8 {
    let s = (bits & 0x3f) as i16;
    let mut diff = i16::from(b'A');
    diff += ((25 - s) >> 8) & 6; // 26..: 'a' - 26
    diff -= ((51 - s) >> 8) & 75; // 52..: '0' - 52
    diff -= ((61 - s) >> 8) & 15; // 62: '+'
    diff += ((62 - s) >> 8) & 3; // 63: '/'
    (s + diff) as u8
}

/// Decimal text of a Unix timestamp, as `i64::to_string` spells it, on the stack.
pub(crate) struct Decimal {
    bytes: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(value: i64) -> Self {
        let mut bytes = [0; 20];
        let mut start = bytes.len();
        let mut rest = value.unsigned_abs();
        loop {
            start -= 1;
            bytes[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            start -= 1;
            bytes[start] = b'-';
        }
        Self { bytes, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
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
pub(crate) fn first_matching_secret<'s>(
    secrets: &[SecretCandidate<'s>],
    mismatch: Rejection,
    mut attempt: impl FnMut(&[u8]) -> Attempt,
) -> Result<&'s str, Rejection> {
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
        Some(id) => Ok(id),
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

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn hex32_spells_every_byte_as_the_hex_crate_does() {
        for start in 0..=255u8 {
            let digest: [u8; 32] = std::array::from_fn(|i| start.wrapping_add(i as u8 * 8));
            assert_eq!(hex32(&digest).as_slice(), hex::encode(digest).as_bytes());
        }
    }

    #[test]
    fn base64_32_spells_every_byte_as_the_base64_crate_does() {
        for start in 0..=255u8 {
            for step in [1u8, 3, 7, 85] {
                let digest: [u8; 32] =
                    std::array::from_fn(|i| start.wrapping_add((i as u8).wrapping_mul(step)));
                let want = base64::engine::general_purpose::STANDARD.encode(digest);
                assert_eq!(base64_32(&digest).as_slice(), want.as_bytes());
            }
        }
    }

    #[test]
    fn decimal_spells_timestamps_as_to_string_does() {
        for value in [0, 7, 10, 1_750_000_000, -1, -300, i64::MAX, i64::MIN] {
            assert_eq!(Decimal::new(value).as_bytes(), value.to_string().as_bytes());
        }
    }
}
