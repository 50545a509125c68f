//! Which of 16 bytes equal a given byte, as a mask with bit `i` set for byte `i`: the
//! string scans read keys and short values 16 bytes a step with it. On x86-64, where
//! SSE2 is always present, one compare and one move-mask instruction (through
//! `safe_arch`, so no `unsafe` here); elsewhere eight bytes at a time in a `u64`.

#[cfg(target_arch = "x86_64")]
pub(super) use sse2::{equal, equal_either};
#[cfg(not(target_arch = "x86_64"))]
pub(super) use words::{equal, equal_either};

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i,
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
}

#[cfg(test)]
mod tests {
    use super::{equal, equal_either, words};

    /// Every byte value at every position, and every pair of positions for the bytes
    /// the scans look for, against a byte-by-byte answer.
    #[test]
    fn masks_mark_exactly_the_equal_bytes_in_both_forms() {
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
        }
    }
}
