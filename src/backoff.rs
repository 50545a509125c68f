//! Reconnect/retry pacing for background loops (relay, consumers, delivery claims):
//! doubling delays with jitter, capped.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Option<Duration>,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            current: None,
        }
    }

    /// The next delay; `jitter` in [0, 1) spreads instances apart (±20%).
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let base = match self.current {
            None => self.initial,
            Some(previous) => (previous * 2).min(self.max),
        };
        self.current = Some(base);
        base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }

    pub fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_after_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let mid = |b: &mut Backoff| b.next_delay(0.5);
        assert_eq!(mid(&mut backoff), Duration::from_millis(100));
        assert_eq!(mid(&mut backoff), Duration::from_millis(200));
        assert_eq!(mid(&mut backoff), Duration::from_millis(400));
        assert_eq!(mid(&mut backoff), Duration::from_millis(500));
        assert_eq!(mid(&mut backoff), Duration::from_millis(500));
        backoff.reset();
        assert_eq!(mid(&mut backoff), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut low = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut high = low.clone();
        assert_eq!(low.next_delay(0.0), Duration::from_millis(80));
        assert_eq!(high.next_delay(1.0), Duration::from_millis(120));
    }
}
