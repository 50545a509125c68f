//! Failed sign-ins per client address: after `limit` failures within `window`, the
//! address is refused (429 with `Retry-After`) until the window that began with its
//! first failure ends. Tokens are 256-bit random values, so this is not what keeps
//! them secret; it keeps a guessing client from costing a store lookup per guess and
//! from filling the logs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many tracked addresses the map is cleared rather than grown.
const MAX_TRACKED: usize = 10_000;

pub struct SignInThrottle {
    limit: u32,
    window: Duration,
    /// Address → (first failure of its window, failures since).
    failures: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl Default for SignInThrottle {
    /// Ten failures per address in five minutes.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(300))
    }
}

impl SignInThrottle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `address` has used up its failures for now.
    pub fn check(&self, address: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&address) {
            Some((first, count)) if *count >= self.limit => {
                let ends = *first + self.window;
                if now < ends {
                    Err(ends - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, address: Option<IpAddr>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&address) {
            failures.retain(|_, (first, _)| now.duration_since(*first) < self.window);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    pub fn succeeded(&self, address: Option<IpAddr>) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_its_window_ends() {
        let throttle = SignInThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        let at = |s: u64| t0 + Duration::from_secs(s);
        // (seconds after t0, address, fails?, expected check before the attempt)
        type Step = (u64, Option<IpAddr>, bool, Result<(), Duration>);
        let steps: &[Step] = &[
            (0, a, true, Ok(())),
            (10, a, true, Ok(())),
            (20, a, true, Ok(())),
            (30, a, true, Err(Duration::from_secs(30))),
            (30, b, true, Ok(())),
            (59, a, true, Err(Duration::from_secs(1))),
            (60, a, true, Ok(())),
            (61, a, false, Ok(())),
            (62, a, true, Ok(())),
        ];
        for (n, (s, address, fails, expected)) in steps.iter().enumerate() {
            assert_eq!(throttle.check(*address, at(*s)), *expected, "step {n}");
            if expected.is_ok() {
                if *fails {
                    throttle.failed(*address, at(*s));
                } else {
                    throttle.succeeded(*address);
                }
            }
        }
    }
}
