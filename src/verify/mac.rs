//! HMAC computation, constant-time comparison, and the try-every-secret loop.
//!
//! Received signatures are decoded once (they are public) and compared with each secret's
//! raw digest, only where the spelling is the one canonical for the scheme, so a digest
//! comparison is a comparison of the strings the sender's library compares.
//!
//! Nothing here allocates: digests, decoded signatures and keys live on the stack, and
//! the HMAC is fed the signed parts piecewise so the body is never copied.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::config::MacAlgorithm;
use super::error::Rejection;
use super::prepared::PreparedSecret;
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
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    Some(finish_sha256(mac, parts))
}

/// [`hmac_sha256`] keyed with the secret's own bytes, from its prepared key schedule
/// when it has one.
pub(crate) fn secret_sha256(secret: &SecretCandidate<'_>, parts: &[&[u8]]) -> Option<[u8; 32]> {
    match secret.prepared.and_then(PreparedSecret::sha256) {
        Some(ready) => Some(finish_sha256(ready.clone(), parts)),
        None => hmac_sha256(secret.value, parts),
    }
}

/// HMAC-SHA1 over the concatenation of `parts` (Intercom's MAC); `None` as [`hmac`].
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 20]> {
    let mac = <Hmac<Sha1> as Mac>::new_from_slice(key).ok()?;
    Some(finish_sha1(mac, parts))
}

/// [`hmac_sha1`] keyed with the secret's own bytes, from its prepared key schedule when
/// it has one.
pub(crate) fn secret_sha1(secret: &SecretCandidate<'_>, parts: &[&[u8]]) -> Option<[u8; 20]> {
    match secret.prepared.and_then(PreparedSecret::sha1) {
        Some(ready) => Some(finish_sha1(ready.clone(), parts)),
        None => hmac_sha1(secret.value, parts),
    }
}

/// Feeds `parts` to a keyed HMAC-SHA1 and returns the digest.
fn finish_sha1(mut mac: Hmac<Sha1>, parts: &[&[u8]]) -> [u8; 20] {
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().into()
}

/// [`hmac`] keyed with the secret's own bytes, from its prepared key schedule when it
/// has one for `algorithm`.
pub(crate) fn secret_hmac(
    algorithm: MacAlgorithm,
    secret: &SecretCandidate<'_>,
    parts: &[&[u8]],
) -> Option<Digest> {
    match algorithm {
        MacAlgorithm::Sha256 => secret_sha256(secret, parts).map(|digest| Digest::new(&digest)),
        MacAlgorithm::Sha512 => match secret.prepared.and_then(PreparedSecret::sha512) {
            Some(ready) => {
                let mut mac = ready.clone();
                parts.iter().for_each(|p| mac.update(p));
                Some(Digest::new(&mac.finalize().into_bytes()))
            }
            None => hmac(algorithm, secret.value, parts),
        },
    }
}

/// Feeds `parts` to a keyed HMAC-SHA256 and returns the digest.
pub(crate) fn finish_sha256(mut mac: Hmac<Sha256>, parts: &[&[u8]]) -> [u8; 32] {
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().into()
}

/// The digest spelled by `text` if it is exactly 64 lower-case hex digits, the one
/// spelling GitHub, Stripe and Slack send: comparing decoded digests is then comparing
/// the strings, without encoding the expected digest for every secret. The received
/// text is public: no need for constant time here.
pub(crate) fn lower_hex32(text: &[u8]) -> Option<[u8; 32]> {
    lower_hex(text)
}

/// [`lower_hex32`] for a digest of `N` bytes (HMAC-SHA1's 20; at most 32). Arithmetic
/// on every digit and one check at the end, without a table or an exit per digit, so
/// both loops are compiled to vector code: a signature is decoded on every request.
pub(crate) fn lower_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut digits = [0u8; 64];
    let digits = digits.get_mut(..text.len())?;
    let mut invalid = false;
    for (value, &digit) in digits.iter_mut().zip(text) {
        let decimal = digit.wrapping_sub(b'0');
        let letter = digit.wrapping_sub(b'a');
        invalid |= (decimal > 9) & (letter > 5);
        *value = if decimal <= 9 {
            decimal
        } else {
            letter.wrapping_add(10)
        };
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    (!invalid).then_some(out)
}

/// The digest spelled by `text` if it is exactly the padded standard base64 that
/// [`base64_32`] gives (other padding and non-zero trailing bits are refused, so no
/// second spelling decodes to the same digest).
pub(crate) fn canonical_base64_32(text: &[u8]) -> Option<[u8; 32]> {
    canonical_base64(text)
}

/// The `N` bytes spelled by `text` if it is exactly their padded standard base64, the
/// one spelling base64 encoders give: other padding and non-zero trailing bits are
/// refused, as the `base64` crate's standard engine refuses them. A table lookup per
/// character with one check at the end: the text is public, and the crate's general
/// decoder cost a tenth of a 1 KiB MAC for a 44-character signature.
pub(crate) fn canonical_base64<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != N.div_ceil(3) * 4 {
        return None;
    }
    let mut out = [0; N];
    let mut invalid = 0;
    let mut groups = text.chunks_exact(4);
    for (bytes, chars) in out.chunks_exact_mut(3).zip(groups.by_ref()) {
        let mut bits = 0u32;
        for &char in chars {
            let value = BASE64[usize::from(char)];
            invalid |= value;
            bits = bits << 6 | u32::from(value & 0x3f);
        }
        bytes.copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    // The last one or two bytes: `xx==` or `xxx=`, their unused bits zero.
    let tail = N % 3;
    if tail > 0 {
        let chars = groups.next()?;
        let mut bits = 0u32;
        for (at, &char) in chars.iter().enumerate() {
            if at > tail {
                invalid |= u8::from(char != b'=') << 7;
                bits <<= 6;
                continue;
            }
            let value = BASE64[usize::from(char)];
            invalid |= value;
            bits = bits << 6 | u32::from(value & 0x3f);
        }
        let unused = (1u32 << (8 * (3 - tail))) - 1;
        invalid |= u8::from(bits & unused != 0) << 7;
        let decoded = bits.to_be_bytes();
        out.get_mut(N - tail..)?
            .copy_from_slice(decoded.get(1..1 + tail)?);
    }
    (invalid & NOT_BASE64 == 0).then_some(out)
}

/// Marks a byte that is not a character of the standard alphabet in [`BASE64`].
const NOT_BASE64: u8 = 0x80;

/// Each byte's value as a character of the standard base64 alphabet, or [`NOT_BASE64`].
static BASE64: [u8; 256] = {
    let mut table = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut value = 0;
    while value < 64 {
        table[alphabet[value] as usize] = value as u8;
        value += 1;
    }
    table
};

/// Padded standard base64 of a SHA-256 digest. Arithmetic instead of a lookup table, so
/// the digest does not choose which memory is read.
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

    /// The spelling of `value`, given the digits `text` it was parsed from: they are
    /// copied when they already are that spelling (no leading zero), which is cheaper
    /// than formatting.
    pub(crate) fn respelled(value: i64, text: &str) -> Self {
        let canonical = text.len() == 1 || !text.starts_with('0');
        let mut bytes = [0; 20];
        match bytes.len().checked_sub(text.len()) {
            Some(start) if canonical && value >= 0 => {
                bytes[start..].copy_from_slice(text.as_bytes());
                Self { bytes, start }
            }
            _ => Self::new(value),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// Whether any of `received` equals `expected`, comparing every one of them in constant
/// time (lengths are public: they are fixed by the scheme).
pub(crate) fn any_eq<R: AsRef<[u8]>>(
    expected: &[u8],
    received: impl IntoIterator<Item = R>,
) -> bool {
    let mut hit = Choice::from(0);
    for candidate in received {
        hit |= ct_eq(expected, candidate.as_ref());
    }
    hit.into()
}

/// Constant-time equality of two byte strings of public length. The differences are
/// OR-ed eight bytes at a time and only the total passes `subtle`'s optimisation
/// barrier: `<[u8]>::ct_eq` puts every byte through it, which made the comparison of a
/// hex digest cost a sixth of the HMAC of a 1 KiB body.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> Choice {
    if a.len() != b.len() {
        return Choice::from(0);
    }
    let (a_words, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b_words, b_rest) = b.split_at(a_words.len());
    let mut diff = 0u64;
    for (x, y) in a_words.chunks_exact(8).zip(b_words.chunks_exact(8)) {
        diff |= word(x) ^ word(y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        diff |= u64::from(x ^ y);
    }
    diff.ct_eq(&0)
}

/// Eight bytes as one word; `chunk` is always eight long here.
fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(chunk);
    u64::from_ne_bytes(bytes)
}

/// What one secret candidate made of the request.
pub(crate) enum Attempt {
    Match,
    NoMatch,
    /// The candidate cannot be a key for this scheme (e.g. bad `whsec_` base64).
    Unusable,
}

/// Runs `attempt` for every candidate (no early exit, so timing does not tell which
/// position matched) and returns the id of the first that matched. Inlined into each
/// scheme's verifier, as the loop and the scheme's MAC belong together.
#[inline]
pub(crate) fn first_matching_secret<'s>(
    secrets: &[SecretCandidate<'s>],
    mismatch: Rejection,
    mut attempt: impl FnMut(&SecretCandidate<'s>) -> Attempt,
) -> Result<&'s str, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NoActiveSecret);
    }
    let mut matched: Option<&str> = None;
    let mut usable = false;
    for secret in secrets {
        match attempt(secret) {
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
    use base64::alphabet;
    use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;

    use super::*;

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
    fn lower_hex32_reads_only_the_lower_case_spelling_of_a_digest() {
        for start in 0..=255u8 {
            let digest: [u8; 32] =
                std::array::from_fn(|i| start.wrapping_add((i as u8).wrapping_mul(9)));
            assert_eq!(lower_hex32(hex::encode(digest).as_bytes()), Some(digest));
            let upper = hex::encode_upper(digest);
            let has_letter = upper.bytes().any(|b| b.is_ascii_uppercase());
            assert_eq!(lower_hex32(upper.as_bytes()).is_some(), !has_letter);
        }
        for bad in ["", "0", &"0".repeat(63), &"0".repeat(65), &"g".repeat(64)] {
            assert_eq!(lower_hex32(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn lower_hex_refuses_every_byte_but_a_lower_case_digit_at_every_position() {
        for byte in 0..=255u8 {
            for at in [0, 1, 30, 63] {
                let mut text = [b'0'; 64];
                text[at] = byte;
                let lower = byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
                let want = lower.then(|| {
                    let mut digest = [0; 32];
                    hex::decode_to_slice(text, &mut digest).unwrap();
                    digest
                });
                assert_eq!(lower_hex32(&text), want, "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn canonical_base64_32_reads_exactly_what_base64_32_writes() {
        for start in 0..=255u8 {
            let digest: [u8; 32] = std::array::from_fn(|i| start.wrapping_add(i as u8 * 5));
            let text = base64_32(&digest);
            assert_eq!(canonical_base64_32(&text), Some(digest));
            // Same digest, other spellings: unpadded, and non-zero trailing bits.
            assert_eq!(canonical_base64_32(&text[..43]), None);
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut trailing = text;
            let sextet = ALPHABET.iter().position(|&c| c == text[42]).unwrap();
            trailing[42] = ALPHABET[sextet ^ 1];
            let lenient = GeneralPurpose::new(
                &alphabet::STANDARD,
                GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
            );
            assert_eq!(lenient.decode(trailing).unwrap(), digest);
            assert_eq!(canonical_base64_32(&trailing), None);
        }
        assert_eq!(canonical_base64_32(&[b'A'; 44]), None);
    }

    #[test]
    fn canonical_base64_agrees_with_the_base64_crate_on_every_one_character_change() {
        fn agrees<const N: usize>() {
            let standard = base64::engine::general_purpose::STANDARD;
            let bytes: [u8; N] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
            let text = standard.encode(bytes).into_bytes();
            for at in 0..text.len() {
                for replacement in [b'A', b'B', b'/', b'+', b'=', b'-', b'_', b' ', 0xff] {
                    let mut changed = text.clone();
                    changed[at] = replacement;
                    let want = standard
                        .decode(&changed)
                        .ok()
                        .and_then(|v| <[u8; N]>::try_from(v).ok());
                    assert_eq!(
                        canonical_base64::<N>(&changed),
                        want,
                        "{N} {at} {replacement}"
                    );
                }
            }
        }
        agrees::<20>();
        agrees::<32>();
        agrees::<64>();
        agrees::<3>();
    }

    #[test]
    fn canonical_base64_reads_exactly_what_the_encoder_writes_at_every_length() {
        fn round_trip<const N: usize>() {
            for start in 0..=255u8 {
                let bytes: [u8; N] =
                    std::array::from_fn(|i| start.wrapping_add((i as u8).wrapping_mul(7)));
                let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                assert_eq!(canonical_base64::<N>(text.as_bytes()), Some(bytes));
                assert_eq!(
                    canonical_base64::<N>(text.trim_end_matches('=').as_bytes()),
                    None
                );
                assert_eq!(canonical_base64::<N>(format!("{text}=").as_bytes()), None);
            }
        }
        round_trip::<20>();
        round_trip::<32>();
        round_trip::<64>();
        // Non-zero trailing bits: `...A=` for 20 bytes spelled `...B=` decodes leniently.
        let text = base64::engine::general_purpose::STANDARD.encode([0u8; 20]);
        let mut trailing = text.into_bytes();
        trailing[26] = b'B';
        assert_eq!(canonical_base64::<20>(&trailing), None);
    }

    #[test]
    fn ct_eq_agrees_with_plain_equality_at_every_length_and_position() {
        for len in 0..=70usize {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(bool::from(ct_eq(&a, &a.clone())), "len {len}");
            for at in 0..len {
                for flip in [1u8, 0x80] {
                    let mut b = a.clone();
                    b[at] ^= flip;
                    assert!(!bool::from(ct_eq(&a, &b)), "len {len} at {at}");
                }
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!bool::from(ct_eq(&a, &longer)), "len {len} vs longer");
        }
    }

    #[test]
    fn decimal_spells_timestamps_as_to_string_does() {
        for value in [0, 7, 10, 1_750_000_000, -1, -300, i64::MAX, i64::MIN] {
            assert_eq!(Decimal::new(value).as_bytes(), value.to_string().as_bytes());
        }
    }

    #[test]
    fn respelled_timestamps_drop_leading_zeros_and_keep_canonical_digits() {
        for text in ["0", "00", "7", "007", "10", "1750000000", "01750000000"] {
            let value: i64 = text.parse().unwrap();
            let spelled = Decimal::respelled(value, text);
            assert_eq!(spelled.as_bytes(), value.to_string().as_bytes(), "{text}");
        }
    }
}
