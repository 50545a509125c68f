//! Load shedding by queueing time: when a new event would wait longer than the target
//! for a group commit, it is refused at once (503 + Retry-After). A length limit alone
//! cannot do this: how long a queue of a given length takes to drain depends on how
//! fast the store is right now.
//!
//! Two signals, either one refuses: the wait the queue's length predicts at the
//! writers' recent pace (reacts within one batch to a burst), and the wait the last
//! batch actually saw (catches a store that has slowed since).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct Shedder {
    max_wait_micros: u64,
    writers: u64,
    /// How long the batch a writer took last had waited (its oldest event).
    last_wait_micros: AtomicU64,
    /// A writer's recent commit time per event.
    micros_per_event: AtomicU64,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Shedder {
    pub fn new(max_wait: Duration, writers: usize) -> Self {
        Self {
            max_wait_micros: micros(max_wait),
            writers: u64::try_from(writers.max(1)).unwrap_or(1),
            last_wait_micros: AtomicU64::new(0),
            micros_per_event: AtomicU64::new(0),
        }
    }

    /// A writer took a batch whose oldest event had waited `wait`.
    pub fn observe_wait(&self, wait: Duration) {
        self.last_wait_micros.store(micros(wait), Ordering::Relaxed);
    }

    /// A writer committed `events` in `took`.
    pub fn observe_commit(&self, events: usize, took: Duration) {
        let events = u64::try_from(events.max(1)).unwrap_or(u64::MAX);
        self.micros_per_event
            .store(micros(took) / events, Ordering::Relaxed);
    }

    /// Whether a new event may join a queue holding `waiting` events. An empty queue
    /// always admits, so a past overload never outlives its backlog.
    pub fn admits(&self, waiting: usize) -> bool {
        if waiting == 0 {
            return true;
        }
        let waiting = u64::try_from(waiting).unwrap_or(u64::MAX);
        let predicted =
            waiting.saturating_mul(self.micros_per_event.load(Ordering::Relaxed)) / self.writers;
        predicted <= self.max_wait_micros
            && self.last_wait_micros.load(Ordering::Relaxed) <= self.max_wait_micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shedder() -> Shedder {
        Shedder::new(Duration::from_millis(100), 2)
    }

    #[test]
    fn admits_while_batches_wait_less_than_the_target() {
        let shed = shedder();
        shed.observe_wait(Duration::from_millis(99));
        assert!(shed.admits(500));
    }

    #[test]
    fn refuses_while_batches_wait_longer_than_the_target() {
        let shed = shedder();
        shed.observe_wait(Duration::from_millis(101));
        assert!(!shed.admits(1));
    }

    #[test]
    fn refuses_when_the_queue_would_take_longer_than_the_target_to_drain() {
        let shed = shedder();
        // 1 ms per event and writer, 2 writers: 200 waiting drain in 100 ms.
        shed.observe_commit(10, Duration::from_millis(10));
        assert!(shed.admits(200));
        assert!(!shed.admits(202));
    }

    #[test]
    fn admits_into_an_empty_queue_after_an_overload() {
        let shed = shedder();
        shed.observe_wait(Duration::from_secs(3));
        shed.observe_commit(1, Duration::from_secs(1));
        assert!(shed.admits(0));
    }

    #[test]
    fn recovers_once_writers_are_fast_again() {
        let shed = shedder();
        shed.observe_wait(Duration::from_secs(3));
        shed.observe_commit(1, Duration::from_secs(1));
        shed.observe_wait(Duration::from_millis(2));
        shed.observe_commit(64, Duration::from_millis(6));
        assert!(shed.admits(10));
    }
}
