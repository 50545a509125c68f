//! Sources with their opened secrets, cached briefly so ingress does not read them
//! (two queries and a decryption) on every request.
//!
//! An entry lives at most `ttl` (1 s): a rotation, an expiry, a disable or a delete
//! made on ANY instance takes effect everywhere within that time, with no cross-instance
//! signalling to fail. Changes made through this instance also invalidate at once.
//! Unknown sources are cached too, so a flood of requests to a bad URL costs no queries.

use super::ActiveSource;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Beyond this many entries the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

/// `None` caches "no such (enabled) source".
type Entry = (Instant, Option<Arc<ActiveSource>>);

pub struct SourceCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SourceCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached lookup of `source_id` if it is fresh at `now`.
    pub fn get(&self, source_id: &str, now: Instant) -> Option<Option<Arc<ActiveSource>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(source_id)
            .filter(|(loaded, _)| now.duration_since(*loaded) < self.ttl)
            .map(|(_, source)| source.clone())
    }

    pub fn insert(&self, source_id: &str, source: Option<Arc<ActiveSource>>, loaded: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(source_id.to_owned(), (loaded, source));
    }

    pub fn invalidate(&self, source_id: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl_and_on_invalidation() {
        let cache = SourceCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        cache.insert("src_a", None, t0);
        assert!(cache
            .get("src_a", t0 + Duration::from_millis(999))
            .is_some());
        assert!(cache.get("src_a", t0 + Duration::from_secs(1)).is_none());
        cache.insert("src_a", None, t0);
        cache.invalidate("src_a");
        assert!(cache.get("src_a", t0).is_none());
        assert!(cache.get("src_b", t0).is_none());
    }
}
