//! An endpoint's `rate_limit_per_s` (SPEC §6) as a token bucket. Pure: the caller
//! passes `now`.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` until first use (a full bucket).
    updated: Option<Instant>,
}

impl TokenBucket {
    /// Refills `rate_per_s` tokens a second up to `burst`; starts full.
    pub fn new(rate_per_s: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            rate_per_s: f64::from(rate_per_s.get()),
            burst: f64::from(burst.get()),
            tokens: f64::from(burst.get()),
            updated: None,
        }
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        match self.updated {
            Some(updated) => {
                let elapsed = now.saturating_duration_since(updated).as_secs_f64();
                (self.tokens + elapsed * self.rate_per_s).min(self.burst)
            }
            None => self.tokens,
        }
    }

    /// Whole tokens available at `now`, without taking any.
    pub fn available(&self, now: Instant) -> usize {
        // Never negative and at most the burst (a u32), so the cast cannot wrap.
        self.tokens_at(now).floor() as usize
    }

    /// Takes one token, or says how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.tokens = self.tokens_at(now);
        // Never moved backwards, so an out-of-order `now` cannot count time twice.
        self.updated = Some(self.updated.map_or(now, |updated| updated.max(now)));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.rate_per_s,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Step {
        /// Expect a token (`Ok`) or a wait of this many milliseconds.
        Take(Result<(), u64>),
        WaitMs(u64),
    }
    use Step::*;

    fn check(rate_per_s: u32, burst: u32, steps: &[Step]) {
        let nz = |n: u32| NonZeroU32::new(n).unwrap();
        let mut bucket = TokenBucket::new(nz(rate_per_s), nz(burst));
        let mut now = Instant::now();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Take(expect) => assert_eq!(
                    bucket.try_take(now),
                    expect.map_err(Duration::from_millis),
                    "step {i}"
                ),
                WaitMs(ms) => now += Duration::from_millis(*ms),
            }
        }
    }

    #[test]
    fn a_full_bucket_allows_a_burst_then_paces_at_the_rate() {
        check(
            2,
            3,
            &[
                Take(Ok(())),
                Take(Ok(())),
                Take(Ok(())),
                Take(Err(500)),
                WaitMs(250),
                Take(Err(250)),
                WaitMs(250),
                Take(Ok(())),
                Take(Err(500)),
            ],
        );
    }

    #[test]
    fn an_idle_bucket_refills_only_up_to_the_burst() {
        check(
            10,
            2,
            &[
                Take(Ok(())),
                Take(Ok(())),
                Take(Err(100)),
                WaitMs(60_000),
                Take(Ok(())),
                Take(Ok(())),
                Take(Err(100)),
            ],
        );
    }

    #[test]
    fn refused_attempts_do_not_consume_tokens() {
        check(
            1,
            1,
            &[
                Take(Ok(())),
                Take(Err(1000)),
                Take(Err(1000)),
                WaitMs(1000),
                Take(Ok(())),
            ],
        );
    }

    #[test]
    fn available_counts_whole_tokens_and_takes_none() {
        let nz = |n: u32| NonZeroU32::new(n).unwrap();
        let mut bucket = TokenBucket::new(nz(2), nz(3));
        let now = Instant::now();
        assert_eq!(bucket.available(now), 3);
        assert_eq!(bucket.available(now), 3);
        assert_eq!(bucket.try_take(now), Ok(()));
        assert_eq!(bucket.try_take(now), Ok(()));
        assert_eq!(bucket.try_take(now), Ok(()));
        assert_eq!(bucket.available(now + Duration::from_millis(250)), 0);
        assert_eq!(bucket.available(now + Duration::from_millis(500)), 1);
        assert_eq!(bucket.available(now + Duration::from_secs(60)), 3);
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let one = NonZeroU32::MIN;
        let mut bucket = TokenBucket::new(one, one);
        let now = Instant::now() + Duration::from_secs(10);
        assert_eq!(bucket.try_take(now), Ok(()));
        assert_eq!(
            bucket.try_take(now - Duration::from_secs(5)),
            Err(Duration::from_secs(1))
        );
        assert_eq!(
            bucket.try_take(now + Duration::from_millis(500)),
            Err(Duration::from_millis(500))
        );
    }
}
