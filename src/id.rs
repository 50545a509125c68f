//! Identifiers: a type prefix plus a time-ordered, random suffix (ULID layout).
//!
//! Time ordering lets lists paginate by id alone; the 80 random bits make ids
//! unguessable enough that probing another org's ids is pointless.

use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new id such as `key_01J9Z3…`: 48-bit millisecond timestamp + 80 random bits.
pub fn new_id(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    format!("{prefix}_{}", encode_ulid(millis, &random))
}

fn encode_ulid(millis: u64, random: &[u8; 10]) -> String {
    let mut value: u128 = u128::from(millis & 0xFFFF_FFFF_FFFF) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (72 - 8 * i);
    }
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 0x1F) as usize] as char)
        .collect()
}

/// Whether `id` looks like an id of ours with this prefix; used to reject junk early.
pub fn is_well_formed(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|suffix| suffix.len() == 26 && suffix.bytes().all(|b| CROCKFORD.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time() {
        let early = format!("x_{}", encode_ulid(1_000, &[0xFF; 10]));
        let late = format!("x_{}", encode_ulid(1_001, &[0; 10]));
        assert!(early < late);
    }

    #[test]
    fn new_ids_are_unique_and_well_formed() {
        let a = new_id("key");
        let b = new_id("key");
        assert_ne!(a, b);
        assert!(is_well_formed(&a, "key"));
        assert!(!is_well_formed(&a, "src"));
        assert!(!is_well_formed("key_short", "key"));
    }
}
