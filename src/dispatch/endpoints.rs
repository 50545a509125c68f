//! Per-endpoint gates, in memory: concurrency limit, circuit breaker, rate limit, and
//! a limit on all attempts in flight. They are per instance by design: they protect
//! this process's workers and the receiver from this process; the store holds
//! everything that must survive.
//!
//! The claim loop asks [`EndpointGate::room`] before claiming, so it takes only what
//! can start. Each claim arms [`EndpointGate::freed`]: the first attempt to finish
//! after it with its endpoint at most half busy wakes the loop, so claims come in batches instead of one per finished attempt, and no
//! finished attempt after a claim goes unnoticed.

use crate::delivery::{
    CircuitBreaker, CircuitState, TokenBucket, DEFAULT_COOL_DOWN, DEFAULT_FAILURE_THRESHOLD,
};
use crate::store::Endpoint;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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
    instance: Arc<Instance>,
}

/// What every permit of this instance shares.
struct Instance {
    concurrency: usize,
    max_in_flight: usize,
    in_flight: AtomicUsize,
    /// Set by each claim; the first permit dropped with room worth a claim clears it
    /// and notifies `freed`.
    armed: AtomicBool,
    freed: Notify,
}

pub enum Gate {
    Go(Permit),
    /// Not now: try again after this long, without counting an attempt.
    Wait(Duration),
}

/// One attempt in flight. `finish` feeds the circuit breaker; dropping releases the slot.
pub struct Permit {
    state: Shared,
    instance: Arc<Instance>,
}

impl Permit {
    pub fn finish(self, success: bool, now: Instant) {
        lock(&self.state).circuit.record(success, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let endpoint_left = {
            let mut state = lock(&self.state);
            state.in_flight = state.in_flight.saturating_sub(1);
            state.in_flight
        };
        let instance = &self.instance;
        instance.in_flight.fetch_sub(1, Ordering::AcqRel);
        // Only the endpoint's own count: waking on the instance's too would wake after
        // every attempt whenever few endpoints are busy, and an instance at its limit
        // has endpoints that empty.
        let worth_a_claim = endpoint_left <= instance.concurrency / 2;
        if worth_a_claim && instance.armed.swap(false, Ordering::AcqRel) {
            instance.freed.notify_one();
        }
    }
}

fn bucket(rate: u32) -> Option<(u32, TokenBucket)> {
    let per_s = NonZeroU32::new(rate)?;
    Some((rate, TokenBucket::new(per_s, per_s)))
}

impl EndpointGate {
    pub fn new(concurrency: usize, max_in_flight: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            concurrency,
            states: Mutex::new(HashMap::new()),
            instance: Arc::new(Instance {
                concurrency,
                max_in_flight: max_in_flight.max(1),
                in_flight: AtomicUsize::new(0),
                armed: AtomicBool::new(false),
                freed: Notify::new(),
            }),
        }
    }

    /// Attempts one endpoint may have in flight.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Attempts that may still start on this instance, whatever their endpoint.
    pub fn free(&self) -> usize {
        let instance = &self.instance;
        instance
            .max_in_flight
            .saturating_sub(instance.in_flight.load(Ordering::Acquire))
    }

    /// Notified when an attempt finishes after [`Self::arm`] with room worth a claim.
    pub fn freed(&self) -> &Notify {
        &self.instance.freed
    }

    /// Called before each claim: the next attempt to finish with room worth a
    /// claim notifies [`Self::freed`], even if it finishes while the claim runs.
    pub fn arm(&self) {
        self.instance.armed.store(true, Ordering::Release);
    }

    fn shared_states(&self) -> Vec<(String, Shared)> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(id, state)| (id.clone(), Arc::clone(state)))
            .collect()
    }

    /// Endpoints that can start fewer than [`Self::concurrency`] attempts now (in
    /// flight, circuit open, rate limit), with how many they can start.
    pub fn room(&self, now: Instant) -> Vec<(String, usize)> {
        let mut room = Vec::new();
        for (id, shared) in self.shared_states() {
            let state = lock(&shared);
            let mut left = self.concurrency.saturating_sub(state.in_flight);
            if let Some(circuit) = state.circuit.room(now) {
                left = left.min(circuit);
            }
            if let Some((_, bucket)) = &state.rate {
                left = left.min(bucket.available(now));
            }
            if left < self.concurrency {
                room.push((id, left));
            }
        }
        room
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
        let mut counts = [
            (CircuitState::Closed, 0),
            (CircuitState::Open, 0),
            (CircuitState::HalfOpen, 0),
        ];
        for (_, state) in self.shared_states() {
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
        self.instance.in_flight.fetch_add(1, Ordering::AcqRel);
        Gate::Go(Permit {
            state: shared,
            instance: Arc::clone(&self.instance),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OrgSlug;
    use chrono::Utc;
    use std::future::Future;

    fn endpoint(id: &str, rate_limit_per_s: Option<u32>) -> Endpoint {
        let now = Utc::now();
        Endpoint {
            id: id.into(),
            org: OrgSlug::parse("acme").unwrap(),
            url: "https://example.com/hooks".into(),
            description: String::new(),
            event_types: vec![],
            workflow_ids: vec![],
            enabled: true,
            disabled_reason: None,
            timeout_ms: 1000,
            rate_limit_per_s,
            retry_schedule: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn go(gate: &EndpointGate, endpoint: &Endpoint, now: Instant) -> Permit {
        match gate.enter(endpoint, now) {
            Gate::Go(permit) => permit,
            Gate::Wait(wait) => panic!("waits {wait:?}"),
        }
    }

    #[test]
    fn room_lists_only_endpoints_that_cannot_take_a_full_share() {
        let gate = EndpointGate::new(4, 100);
        let now = Instant::now();
        let (busy, idle) = (endpoint("busy", None), endpoint("idle", None));
        let permits: Vec<_> = (0..3).map(|_| go(&gate, &busy, now)).collect();
        drop(go(&gate, &idle, now));
        assert_eq!(gate.room(now), vec![("busy".to_owned(), 1)]);
        assert_eq!(gate.free(), 97);
        drop(permits);
        assert_eq!(gate.room(now), vec![]);
        assert_eq!(gate.free(), 100);
    }

    #[test]
    fn room_counts_rate_limit_tokens_and_an_open_circuit_as_none() {
        let gate = EndpointGate::new(4, 100);
        let now = Instant::now();
        let limited = endpoint("limited", Some(2));
        drop(go(&gate, &limited, now));
        assert_eq!(gate.room(now), vec![("limited".to_owned(), 1)]);

        let failing = endpoint("failing", None);
        for _ in 0..DEFAULT_FAILURE_THRESHOLD {
            go(&gate, &failing, now).finish(false, now);
        }
        let mut room = gate.room(now);
        room.sort();
        assert_eq!(
            room,
            vec![("failing".to_owned(), 0), ("limited".to_owned(), 1)]
        );
    }

    #[test]
    fn after_a_claim_the_first_attempt_to_leave_an_endpoint_half_free_wakes_the_loop() {
        let gate = EndpointGate::new(4, 100);
        let now = Instant::now();
        let busy = endpoint("busy", None);
        let mut permits: Vec<_> = (0..4).map(|_| go(&gate, &busy, now)).collect();
        gate.arm();
        let woken = || {
            let notified = gate.freed().notified();
            tokio::pin!(notified);
            // A stored notification completes the first poll.
            notified
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
                .is_ready()
        };
        permits.pop();
        assert!(!woken(), "3 of 4 in flight");
        permits.pop();
        assert!(woken(), "2 of 4 in flight");
        permits.pop();
        assert!(!woken(), "once per claim");
        gate.arm();
        permits.pop();
        assert!(woken(), "armed again by the next claim");
    }
}
