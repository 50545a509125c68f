//! Per-endpoint circuit breaker: an endpoint that keeps failing stops receiving
//! attempts for a cool-down, so its timeouts do not hold workers that healthy
//! endpoints need (SPEC §6). Pure: the caller passes `now`.

use std::time::{Duration, Instant};

pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    /// The `state` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out since `since`. A probe that never reports back (its worker
    /// died) is replaced by another after a cool-down, so the circuit cannot stick.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cool_down: Duration,
    state: State,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOL_DOWN)
    }
}

impl CircuitBreaker {
    /// Opens after `failure_threshold` consecutive failures (at least 1).
    pub fn new(failure_threshold: u32, cool_down: Duration) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            cool_down,
            state: State::Closed { failures: 0 },
        }
    }

    /// Whether an attempt may go now. After the cool-down the first caller gets the
    /// one probe of the half-open state; everyone else waits for its result.
    pub fn allow(&mut self, now: Instant) -> bool {
        let refused_until = match self.state {
            State::Closed { .. } => return true,
            State::Open { until } => until,
            State::HalfOpen { since } => since + self.cool_down,
        };
        if now < refused_until {
            return false;
        }
        self.state = State::HalfOpen { since: now };
        true
    }

    /// How many attempts `allow` would let through now, without changing anything:
    /// `None` when closed (no limit of its own), 1 once the cool-down is over (the
    /// probe), else 0. Lets a claim take only what can go.
    pub fn room(&self, now: Instant) -> Option<usize> {
        let refused_until = match self.state {
            State::Closed { .. } => return None,
            State::Open { until } => until,
            State::HalfOpen { since } => since + self.cool_down,
        };
        Some(usize::from(now >= refused_until))
    }

    /// The result of an attempt that `allow` let through.
    pub fn record(&mut self, success: bool, now: Instant) {
        self.state = match (self.state, success) {
            (State::Closed { .. } | State::HalfOpen { .. }, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (State::Closed { .. } | State::HalfOpen { .. }, false) => State::Open {
                until: now + self.cool_down,
            },
            // A late result of an attempt let through before the circuit opened does not
            // cut the cool-down short.
            (open @ State::Open { .. }, _) => open,
        };
    }

    pub fn state(&self) -> CircuitState {
        match self.state {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Step {
        Allow(bool),
        Record(bool),
        Wait(u64),
        State(CircuitState),
    }
    use Step::*;

    /// Runs `steps` against a breaker opening after 3 failures for 30 s.
    fn check(steps: &[Step]) {
        let mut breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        let mut now = Instant::now();
        for (i, step) in steps.iter().enumerate() {
            match step {
                Allow(expect) => assert_eq!(breaker.allow(now), *expect, "step {i}: allow"),
                Record(success) => breaker.record(*success, now),
                Wait(s) => now += Duration::from_secs(*s),
                State(expect) => assert_eq!(breaker.state(), *expect, "step {i}: state"),
            }
        }
    }

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        check(&[
            State(CircuitState::Closed),
            Record(false),
            Record(false),
            Record(true),
            Record(false),
            Record(false),
            Allow(true),
            State(CircuitState::Closed),
            Record(false),
            State(CircuitState::Open),
            Allow(false),
        ]);
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_and_its_success_closes() {
        check(&[
            Record(false),
            Record(false),
            Record(false),
            Wait(29),
            Allow(false),
            Wait(1),
            Allow(true),
            State(CircuitState::HalfOpen),
            Allow(false),
            Allow(false),
            Record(true),
            State(CircuitState::Closed),
            Allow(true),
            Allow(true),
        ]);
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_cool_down() {
        check(&[
            Record(false),
            Record(false),
            Record(false),
            Wait(30),
            Allow(true),
            Wait(5),
            Record(false),
            State(CircuitState::Open),
            Wait(29),
            Allow(false),
            Wait(1),
            Allow(true),
        ]);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced_after_a_cool_down() {
        check(&[
            Record(false),
            Record(false),
            Record(false),
            Wait(30),
            Allow(true),
            Wait(29),
            Allow(false),
            Wait(1),
            Allow(true),
            State(CircuitState::HalfOpen),
        ]);
    }

    #[test]
    fn late_results_do_not_shorten_the_cool_down() {
        check(&[
            Record(false),
            Record(false),
            Record(false),
            Record(true),
            State(CircuitState::Open),
            Wait(10),
            Record(false),
            Wait(20),
            Allow(true),
        ]);
    }

    #[test]
    fn room_says_what_allow_would_let_through_without_taking_the_probe() {
        let start = Instant::now();
        let mut circuit = CircuitBreaker::new(1, Duration::from_secs(10));
        assert_eq!(circuit.room(start), None, "closed");
        circuit.record(false, start);
        assert_eq!(circuit.room(start), Some(0), "open");
        let cooled = start + Duration::from_secs(10);
        assert_eq!(circuit.room(cooled), Some(1), "probe due");
        assert_eq!(circuit.room(cooled), Some(1), "room took nothing");
        assert!(circuit.allow(cooled));
        assert_eq!(circuit.room(cooled), Some(0), "probe out");
    }

    #[test]
    fn defaults_open_after_five_failures_for_thirty_seconds() {
        let mut breaker = CircuitBreaker::default();
        let start = Instant::now();
        for _ in 0..4 {
            breaker.record(false, start);
        }
        assert!(breaker.allow(start));
        breaker.record(false, start);
        assert!(!breaker.allow(start + Duration::from_secs(29)));
        assert!(breaker.allow(start + Duration::from_secs(30)));
    }

    #[test]
    fn states_have_stable_labels() {
        assert_eq!(CircuitState::Closed.as_str(), "closed");
        assert_eq!(CircuitState::Open.as_str(), "open");
        assert_eq!(CircuitState::HalfOpen.as_str(), "half_open");
    }
}
