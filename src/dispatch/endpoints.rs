//! Per-endpoint gates, in memory: concurrency limit, circuit breaker, rate limit.
//! They are per instance by design: they protect this process's workers and the
//! receiver from this process; the store holds everything that must survive.

use crate::delivery::{
    CircuitBreaker, CircuitState, TokenBucket, DEFAULT_COOL_DOWN, DEFAULT_FAILURE_THRESHOLD,
};
use crate::store::Endpoint;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a delivery to a busy endpoint waits before it is claimed again.
const BUSY_WAIT: Duration = Duration::from_millis(250);

struct State {
    in_flight: usize,
    circuit: CircuitBreaker,
    rate: Option<(u32, TokenBucket)>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct EndpointGate {
    concurrency: usize,
    states: Mutex<HashMap<String, Shared>>,
}

pub enum Gate {
    Go(Permit),
    /// Not now: try again after this long, without counting an attempt.
    Wait(Duration),
}

/// One attempt in flight. `finish` feeds the circuit breaker; dropping releases the slot.
pub struct Permit {
    state: Shared,
}

impl Permit {
    pub fn finish(self, success: bool, now: Instant) {
        lock(&self.state).circuit.record(success, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

fn bucket(rate: u32) -> Option<(u32, TokenBucket)> {
    let per_s = NonZeroU32::new(rate)?;
    Some((rate, TokenBucket::new(per_s, per_s)))
}

impl EndpointGate {
    pub fn new(concurrency: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            states: Mutex::new(HashMap::new()),
        }
    }

    fn state(&self, endpoint: &Endpoint) -> Shared {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(states.entry(endpoint.id.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(State {
                in_flight: 0,
                circuit: CircuitBreaker::new(DEFAULT_FAILURE_THRESHOLD, DEFAULT_COOL_DOWN),
                rate: endpoint.rate_limit_per_s.and_then(bucket),
            }))
        }))
    }

    /// How many endpoints this instance sees in each circuit state (for the metric).
    pub fn circuit_counts(&self) -> [(CircuitState, i64); 3] {
        let states: Vec<Shared> = self
            .states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut counts = [
            (CircuitState::Closed, 0),
            (CircuitState::Open, 0),
            (CircuitState::HalfOpen, 0),
        ];
        for state in states {
            let current = lock(&state).circuit.state();
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == current) {
                slot.1 += 1;
            }
        }
        counts
    }

    /// May an attempt to `endpoint` start now?
    pub fn enter(&self, endpoint: &Endpoint, now: Instant) -> Gate {
        let shared = self.state(endpoint);
        let mut state = lock(&shared);
        // The endpoint's rate limit may have been changed through the API.
        if state.rate.as_ref().map(|(r, _)| *r) != endpoint.rate_limit_per_s {
            state.rate = endpoint.rate_limit_per_s.and_then(bucket);
        }
        if state.in_flight >= self.concurrency {
            return Gate::Wait(BUSY_WAIT);
        }
        if let Some((_, bucket)) = state.rate.as_mut() {
            if let Err(wait) = bucket.try_take(now) {
                return Gate::Wait(wait);
            }
        }
        if !state.circuit.allow(now) {
            return Gate::Wait(DEFAULT_COOL_DOWN / 2);
        }
        state.in_flight += 1;
        drop(state);
        Gate::Go(Permit { state: shared })
    }
}
