//! Rate limit for the rejection sample: a flood of bad signatures must not become a
//! flood of writes. At most one sample per source per interval is kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RejectionSampler {
    interval: Duration,
    last: Mutex<HashMap<String, Instant>>,
}

/// Beyond this many tracked sources the map is cleared rather than grown.
const MAX_TRACKED: usize = 10_000;

impl RejectionSampler {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a rejection of `source_id` at `now` should be sampled.
    pub fn should_sample(&self, source_id: &str, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(previous) = last.get(source_id) {
            if now.duration_since(*previous) < self.interval {
                return false;
            }
        }
        if last.len() >= MAX_TRACKED {
            last.clear();
        }
        last.insert(source_id.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_at_most_once_per_interval_per_source() {
        let sampler = RejectionSampler::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(sampler.should_sample("src_a", t0));
        assert!(!sampler.should_sample("src_a", t0 + Duration::from_millis(500)));
        assert!(sampler.should_sample("src_b", t0 + Duration::from_millis(500)));
        assert!(sampler.should_sample("src_a", t0 + Duration::from_millis(1001)));
    }
}
