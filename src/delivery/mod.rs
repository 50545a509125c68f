//! Execution hooks, outbound (SPEC §6): the pure core of a delivery — retry schedule,
//! outcome and decision, SSRF policy, circuit breaker, rate limit, Standard Webhooks
//! payload — and the HTTP client that makes one attempt.
//!
//! Everything here but `client` and the resolver is pure: `now` and `jitter` are
//! arguments, so the decisions are tested by tables without clocks or sockets.

mod circuit;
mod client;
mod outcome;
pub mod payload;
mod rate;
mod schedule;
mod ssrf;

pub use circuit::{CircuitBreaker, CircuitState, DEFAULT_COOL_DOWN, DEFAULT_FAILURE_THRESHOLD};
pub use client::{attempt, build_client, AttemptResult, ResponseRecord, BODY_PREFIX_LIMIT};
pub use outcome::{classify_error, decide, AttemptOutcome, Decision, ErrorClass};
pub use rate::TokenBucket;
pub use schedule::{parse_schedule, retry_after, with_retry_after, RetrySchedule, RETRY_AFTER_CAP};
pub use ssrf::{Blocked, GuardedResolver, SsrfPolicy, Unresolved};
