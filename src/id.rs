//! Identifiers: a type prefix plus a time-ordered, random suffix (ULID layout).
//!
//! Time ordering lets lists paginate by id alone; the 80 random bits make ids
//! unguessable enough that probing another org's ids is pointless.

use rand::RngCore;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The last (millisecond, random part) issued by this process: ids minted in the same
/// millisecond increment the random part, so this process's ids sort in creation
/// order (ULID's monotonic mode). A process-wide value by nature, hence the static.
static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

const RANDOM_MASK: u128 = (1 << 80) - 1;

/// A new id such as `key_01J9Z3…`: 48-bit millisecond timestamp + 80 random bits.
pub fn new_id(prefix: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let fresh = u128::from_le_bytes(bytes) & RANDOM_MASK;
    let (millis, random) = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        let next = if now <= last.0 && last.1 < RANDOM_MASK {
            (last.0, last.1 + 1)
        } else {
            (now.max(last.0), fresh)
        };
        *last = next;
        next
    };
    format!("{prefix}_{}", encode_ulid(millis, random))
}

fn encode_ulid(millis: u64, random: u128) -> String {
    let value: u128 = (u128::from(millis & 0xFFFF_FFFF_FFFF) << 80) | (random & RANDOM_MASK);
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 0x1F) as usize] as char)
        .collect()
}

/// The smallest id with this prefix minted at or after `millis` (Unix ms): ids sort by
/// time, so `id >= id_floor(…)` bounds a scan by time on the id index alone.
pub fn id_floor(prefix: &str, millis: i64) -> String {
    let millis = u64::try_from(millis).unwrap_or(0);
    format!("{prefix}_{}", encode_ulid(millis, 0))
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
        let early = format!("x_{}", encode_ulid(1_000, RANDOM_MASK));
        let late = format!("x_{}", encode_ulid(1_001, 0));
        assert!(early < late);
    }

    #[test]
    fn the_floor_of_a_time_sorts_before_every_id_minted_from_then_and_after_every_earlier_one() {
        let floor = id_floor("evt", 1_000);
        assert!(format!("evt_{}", encode_ulid(999, RANDOM_MASK)) < floor);
        assert!(format!("evt_{}", encode_ulid(1_000, 0)) >= floor);
        assert!(format!("evt_{}", encode_ulid(1_000, 7)) > floor);
        assert_eq!(id_floor("evt", -5), format!("evt_{}", encode_ulid(0, 0)));
    }

    #[test]
    fn ids_minted_in_one_process_sort_in_creation_order() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("x")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
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
