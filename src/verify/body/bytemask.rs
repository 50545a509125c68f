//! Which of 16 bytes equal a given byte, or are plain text, as a mask with bit `i` set
//! for byte `i`, and whether any of 64 bytes equals a given byte: the string scans read
//! keys and short values 16 bytes a step with it, the escape check 64. On x86-64, where
//! SSE2 is always present, a few compares and one move-mask instruction (through
//! `safe_arch`, so no `unsafe` here); elsewhere eight bytes at a time in a `u64`, or
//! (plain text) a byte at a time, which the compiler vectorises where it can.

#[cfg(target_arch = "x86_64")]
pub(super) use sse2::{any_equal, equal, equal_either, plain_text};
#[cfg(not(target_arch = "x86_64"))]
pub(super) use words::{any_equal, equal, equal_either, plain_text};

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i, load_unaligned_m128i, m128i,
        move_mask_i8_m128i, set_splat_i8_m128i,
    };

    fn equal_in(bytes: m128i, byte: u8) -> m128i {
        cmp_eq_mask_i8_m128i(bytes, set_splat_i8_m128i(i8::from_ne_bytes([byte])))
    }

    /// One bit per byte, the low 16 bits: never negative.
    fn mask(marked: m128i) -> u32 {
        move_mask_i8_m128i(marked).cast_unsigned()
    }

    /// A mask of the bytes of `chunk` equal to `byte`.
    pub(crate) fn equal(chunk: &[u8; 16], byte: u8) -> u32 {
        mask(equal_in(load_unaligned_m128i(chunk), byte))
    }

    /// A mask of the bytes of `chunk` equal to `a` or to `b`.
    pub(crate) fn equal_either(chunk: &[u8; 16], a: u8, b: u8) -> u32 {
        let bytes = load_unaligned_m128i(chunk);
        mask(equal_in(bytes, a) | equal_in(bytes, b))
    }

    /// Whether any byte of `block` equals `byte`: four compares, one move-mask.
    pub(crate) fn any_equal(block: &[u8; 64], byte: u8) -> bool {
        let (chunks, _) = block.as_chunks::<16>();
        let marked = chunks
            .iter()
            .map(|chunk| equal_in(load_unaligned_m128i(chunk), byte))
            .fold(set_splat_i8_m128i(0), |all, one| all | one);
        mask(marked) != 0
    }

    /// A mask of the bytes of `chunk` that are printable ASCII (space to `~`) other than
    /// the backslash. As signed bytes, those greater than 0x1f are space to DEL.
    pub(crate) fn plain_text(chunk: &[u8; 16]) -> u32 {
        let bytes = load_unaligned_m128i(chunk);
        let space_to_del = cmp_gt_mask_i8_m128i(bytes, set_splat_i8_m128i(0x1f));
        mask(space_to_del) & !mask(equal_in(bytes, 0x7f) | equal_in(bytes, b'\\'))
    }
}

/// The portable form, compiled where there is no SSE2 and in tests everywhere, which
/// hold it to the same answers.
#[cfg(any(test, not(target_arch = "x86_64")))]
mod words {
    /// The high bit of exactly the bytes of `word` that equal `byte` (no carry crosses
    /// a byte).
    const fn bytes_equal(word: u64, byte: u8) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let zero_where_equal = word ^ (ONES * byte as u64);
        // A byte's high bit ends up set here unless the byte is zero.
        !(((zero_where_equal & LOW_SEVEN) + LOW_SEVEN) | zero_where_equal | LOW_SEVEN)
    }

    /// Byte `k`'s high bit moved to bit `k`: the multiplication puts each at its own
    /// position of the top byte, and no two partial products overlap, so none carries.
    const fn gather(high_bits: u64) -> u32 {
        ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }

    fn halves(chunk: &[u8; 16]) -> [u64; 2] {
        let mut low = [0; 8];
        let mut high = [0; 8];
        low.copy_from_slice(&chunk[..8]);
        high.copy_from_slice(&chunk[8..]);
        [u64::from_le_bytes(low), u64::from_le_bytes(high)]
    }

    pub(crate) fn equal(chunk: &[u8; 16], byte: u8) -> u32 {
        let [low, high] = halves(chunk);
        gather(bytes_equal(low, byte)) | gather(bytes_equal(high, byte)) << 8
    }

    pub(crate) fn equal_either(chunk: &[u8; 16], a: u8, b: u8) -> u32 {
        let [low, high] = halves(chunk);
        let marked = |word| bytes_equal(word, a) | bytes_equal(word, b);
        gather(marked(low)) | gather(marked(high)) << 8
    }

    pub(crate) fn any_equal(block: &[u8; 64], byte: u8) -> bool {
        let (chunks, _) = block.as_chunks::<16>();
        chunks.iter().any(|chunk| equal(chunk, byte) != 0)
    }

    pub(crate) fn plain_text(chunk: &[u8; 16]) -> u32 {
        let plain = |byte: u8| (b' '..=b'~').contains(&byte) && byte != b'\\';
        (0..16)
            .zip(chunk)
            .fold(0, |mask, (bit, &byte)| mask | u32::from(plain(byte)) << bit)
    }
}

#[cfg(test)]
mod tests {
    use super::{any_equal, equal, equal_either, plain_text, words};

    /// Every byte value at every position, and every pair of positions for the bytes
    /// the scans look for, against a byte-by-byte answer.
    #[test]
    fn masks_mark_exactly_the_equal_and_the_plain_bytes_in_both_forms() {
        let by_hand = |chunk: &[u8; 16], wanted: &[u8]| {
            (0..16).fold(0u32, |mask, i| {
                mask | u32::from(wanted.contains(&chunk[i])) << i
            })
        };
        let mut chunks = Vec::new();
        for position in 0..16 {
            for value in 0..=255u8 {
                let mut chunk = [b'a'; 16];
                chunk[position] = value;
                chunks.push(chunk);
            }
            for other in 0..16 {
                let mut chunk = [0x80; 16];
                chunk[position] = b'"';
                chunk[other] = b'\\';
                chunks.push(chunk);
            }
        }
        for chunk in &chunks {
            for byte in [b'"', b'\\', 0, 0x7f, 0x80, 0xff, b'a'] {
                assert_eq!(
                    equal(chunk, byte),
                    by_hand(chunk, &[byte]),
                    "{chunk:?} {byte}"
                );
                assert_eq!(words::equal(chunk, byte), by_hand(chunk, &[byte]));
            }
            let either = by_hand(chunk, b"\"\\");
            assert_eq!(equal_either(chunk, b'"', b'\\'), either, "{chunk:?}");
            assert_eq!(words::equal_either(chunk, b'"', b'\\'), either);
            let printable_but_backslash: Vec<u8> = (0x20..0x7f).filter(|b| *b != b'\\').collect();
            let plain = by_hand(chunk, &printable_but_backslash);
            assert_eq!(plain_text(chunk), plain, "{chunk:?}");
            assert_eq!(words::plain_text(chunk), plain);
        }
    }

    /// A 64-byte block holding the byte at each position, or nowhere.
    #[test]
    fn a_block_holds_a_byte_wherever_it_is_and_not_when_absent() {
        for byte in [b'\\', 0, 0x80, 0xff] {
            let clean = [b'a'; 64];
            assert!(!any_equal(&clean, byte));
            assert!(!words::any_equal(&clean, byte));
            for position in 0..64 {
                let mut block = clean;
                block[position] = byte;
                assert!(any_equal(&block, byte), "{byte} at {position}");
                assert!(words::any_equal(&block, byte));
            }
        }
    }
}
