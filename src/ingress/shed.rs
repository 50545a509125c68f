//! Load shedding by queueing time: when a new event would wait longer than the target
//! for a group commit, it is refused at once (503 + Retry-After). A length limit alone
//! cannot do this: how long a queue of a given length takes to drain depends on how
//! fast the store is right now.
//!
//! Two signals, either one refuses: the wait the queue's length predicts at the
//! writers' recent pace (reacts within one batch to a burst), and the wait the last
//! batch actually saw (catches a store that has slowed since). The prediction counts
//! rounds of full batches, not events: a group commit's cost is mostly per batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct Shedder {
    max_wait_micros: u64,
    /// Events all writers take in one round (writers × batch size).
    per_round: u64,
    /// How long the batch a writer took last had waited (its oldest event).
    last_wait_micros: AtomicU64,
    /// Recent commit time of a batch (smoothed).
    batch_micros: AtomicU64,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Shedder {
    pub fn new(max_wait: Duration, writers: usize, max_batch: usize) -> Self {
        let per_round = writers.max(1).saturating_mul(max_batch.max(1));
        Self {
            max_wait_micros: micros(max_wait),
            per_round: u64::try_from(per_round).unwrap_or(u64::MAX),
            last_wait_micros: AtomicU64::new(0),
            batch_micros: AtomicU64::new(0),
        }
    }

    /// A writer took a batch whose oldest event had waited `wait`.
    pub fn observe_wait(&self, wait: Duration) {
        self.last_wait_micros.store(micros(wait), Ordering::Relaxed);
    }

    /// A writer committed a batch in `took`. Smoothed (¼ weight per sample) so one
    /// slow commit does not refuse a burst of traffic on its own.
    pub fn observe_commit(&self, took: Duration) {
        let sample = micros(took);
        let old = self.batch_micros.load(Ordering::Relaxed);
        let smoothed = if old == 0 {
            sample
        } else {
            old - old / 4 + sample / 4
        };
        self.batch_micros.store(smoothed, Ordering::Relaxed);
    }

    /// Whether a new event may join a queue holding `waiting` events. An empty queue
    /// always admits, so a past overload never outlives its backlog.
    pub fn admits(&self, waiting: usize) -> bool {
        if waiting == 0 {
            return true;
        }
        let waiting = u64::try_from(waiting).unwrap_or(u64::MAX);
        let rounds = waiting.div_ceil(self.per_round);
        let predicted = rounds.saturating_mul(self.batch_micros.load(Ordering::Relaxed));
        predicted <= self.max_wait_micros
            && self.last_wait_micros.load(Ordering::Relaxed) <= self.max_wait_micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 writers of 10 events: 20 events per round.
    fn shedder() -> Shedder {
        Shedder::new(Duration::from_millis(100), 2, 10)
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
        // 10 ms a batch, 20 events a round: 200 waiting drain in 100 ms.
        shed.observe_commit(Duration::from_millis(10));
        assert!(shed.admits(200));
        assert!(!shed.admits(201));
    }

    #[test]
    fn one_slow_commit_moves_the_pace_by_a_quarter() {
        let shed = shedder();
        shed.observe_commit(Duration::from_millis(4));
        shed.observe_commit(Duration::from_millis(84));
        // 4 - 1 + 21 = 24 ms a round: 4 rounds (80 events) fit in 100 ms, 5 do not.
        assert!(shed.admits(80));
        assert!(!shed.admits(81));
    }

    #[test]
    fn admits_into_an_empty_queue_after_an_overload() {
        let shed = shedder();
        shed.observe_wait(Duration::from_secs(3));
        shed.observe_commit(Duration::from_secs(1));
        assert!(shed.admits(0));
    }

    #[test]
    fn recovers_once_writers_are_fast_again() {
        let shed = shedder();
        shed.observe_wait(Duration::from_secs(3));
        shed.observe_commit(Duration::from_millis(200));
        shed.observe_wait(Duration::from_millis(2));
        for _ in 0..8 {
            shed.observe_commit(Duration::from_millis(6));
        }
        assert!(shed.admits(10));
    }
}
