//! Load shedding by queueing time: when events have been waiting longer than the
//! target for a group commit, new ones are refused at once (503 + Retry-After) until
//! the writers catch up. A length limit alone cannot do this: how long a queue of a
//! given length takes to drain depends on how fast the store is right now.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct Shedder {
    max_wait_micros: u64,
    /// How long the batch a writer took last had waited (its oldest event).
    last_wait_micros: AtomicU64,
}

impl Shedder {
    pub fn new(max_wait: Duration) -> Self {
        Self {
            max_wait_micros: u64::try_from(max_wait.as_micros()).unwrap_or(u64::MAX),
            last_wait_micros: AtomicU64::new(0),
        }
    }

    /// A writer took a batch whose oldest event had waited `wait`.
    pub fn observe(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.last_wait_micros.store(micros, Ordering::Relaxed);
    }

    /// Whether a new event may join a queue holding `waiting` events. An empty queue
    /// always admits, so a past overload never outlives its backlog.
    pub fn admits(&self, waiting: usize) -> bool {
        waiting == 0 || self.last_wait_micros.load(Ordering::Relaxed) <= self.max_wait_micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_while_batches_wait_less_than_the_target() {
        let shed = Shedder::new(Duration::from_millis(100));
        shed.observe(Duration::from_millis(99));
        assert!(shed.admits(500));
    }

    #[test]
    fn refuses_while_batches_wait_longer_than_the_target() {
        let shed = Shedder::new(Duration::from_millis(100));
        shed.observe(Duration::from_millis(101));
        assert!(!shed.admits(1));
    }

    #[test]
    fn admits_into_an_empty_queue_after_an_overload() {
        let shed = Shedder::new(Duration::from_millis(100));
        shed.observe(Duration::from_secs(3));
        assert!(shed.admits(0));
    }

    #[test]
    fn recovers_once_a_writer_sees_a_short_wait_again() {
        let shed = Shedder::new(Duration::from_millis(100));
        shed.observe(Duration::from_secs(3));
        shed.observe(Duration::from_millis(2));
        assert!(shed.admits(10));
    }
}
