//! Delivery workers (SPEC §6): send due deliveries to endpoints, signed per the
//! Standard Webhooks spec, and record every attempt with the delivery's next state.
//!
//! A claim loop takes batches of due deliveries (`FOR UPDATE SKIP LOCKED` with a
//! lease, so two instances never send the same attempt in normal operation) and runs
//! each as its own task. Per endpoint, in memory: a concurrency limit, a circuit
//! breaker and an optional rate limit. A claim takes only as many of an endpoint's
//! deliveries as it can start now; one that still cannot go (the gate changed since)
//! is deferred in the store without an attempt, so one slow or dead endpoint never
//! holds up the others. Attempts are logged through the [`AttemptRecorder`]'s group
//! commit.

mod endpoints;
mod handed;
mod intake;
mod recorder;
mod span;

use crate::backoff::Backoff;
use crate::crypto::Keyring;
use crate::delivery::parse_schedule;
use crate::delivery::{self, payload, AttemptOutcome, Decision, RetrySchedule, SsrfPolicy};
use crate::id::new_id;
use crate::metrics::Metrics;
use crate::secrets::open_active;
use crate::store::{
    Attempt, AttemptRecord, AuditAction, AuditEntry, ClaimLimits, DeliveryStatus, DueDelivery,
    RunEvent, Store, StoreError, StoredSecret,
};
use crate::trace::child_traceparent;
use crate::verify::{SignError, SigningKey};
use chrono::{DateTime, Utc};
use endpoints::{EndpointGate, Gate};
pub use handed::DeliveryLink;
use handed::{Handed, HandedReceiver};
pub use intake::{broker_handler, record_span, IntakeError, Parent, RunEventWriter};
use rand::Rng;
pub use recorder::RecorderConfig;
use recorder::{AttemptRecorder, NotRecorded};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Most deliveries per claim.
    pub batch_size: usize,
    /// Attempts in flight on this instance, all endpoints together.
    pub max_in_flight: usize,
    pub recorder: RecorderConfig,
    /// How long a claim protects a delivery; longer than any attempt can take.
    pub lease: Duration,
    pub poll_interval: Duration,
    pub connect_timeout: Duration,
    /// Attempts in flight per endpoint.
    pub per_endpoint_concurrency: usize,
    /// An endpoint failing every attempt for this long is disabled.
    pub disable_after: Duration,
    /// Response bodies of older attempts are dropped by the janitor.
    pub attempt_body_retention: Duration,
    pub default_schedule: Vec<Duration>,
    pub allow_cidrs: Vec<crate::cidr::Cidr>,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            max_in_flight: 1024,
            recorder: RecorderConfig {
                writers: 2,
                max_batch: 256,
                queue: 4096,
            },
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
            per_endpoint_concurrency: 64,
            disable_after: Duration::from_secs(5 * 86_400),
            attempt_body_retention: Duration::from_secs(30 * 86_400),
            default_schedule: parse_schedule("0s,5s,5m,30m,2h,5h,10h,10h").unwrap_or_default(),
            allow_cidrs: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keyring: Keyring,
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    gates: EndpointGate,
    /// Started with the claim loop; the writers stop once the last attempt is done.
    recorder: std::sync::OnceLock<AttemptRecorder>,
    /// Deliveries the intake wrote claimed for this instance.
    handed: Handed,
    default_schedule: RetrySchedule,
    config: DispatchConfig,
}

/// An endpoint's unexpired secrets, opened and made ready to sign with once per claimed
/// batch; the error when one cannot be a key (no attempt can then be signed).
/// What the attempts to one endpoint in a claimed batch share, made once per batch:
/// its signing keys and its own retry schedule (`None`: the default one).
struct EndpointPrepared {
    keys: Result<Vec<SigningKey>, SignError>,
    schedule: Option<RetrySchedule>,
}

type EndpointSecrets = Arc<EndpointPrepared>;

/// How long the claim loop lets run events accumulate after a wake-up, so a steady
/// stream of events is claimed in batches rather than one claim per event.
const WAKE_LINGER: Duration = Duration::from_millis(5);

/// The same while the last claim was limited by room: the endpoints' own finished
/// attempts trigger the next claim, new events need not.
const BUSY_WAKE_LINGER: Duration = Duration::from_millis(50);

/// How long deliveries wait when their endpoints' secrets cannot be read.
const SECRETS_RETRY: chrono::Duration = chrono::Duration::seconds(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Claimed all it asked for: more may be due right away.
    Full,
    /// Claimed less, or nothing while some endpoint (or the instance) was full: claim
    /// again when attempts finish, new events arrive, or the poll interval passes.
    Partial,
    /// Nothing due for any endpoint with room: wait for new events or the poll.
    Empty,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("cannot build the delivery HTTP client")]
    Client(#[from] reqwest::Error),
}

fn chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Keyring,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        config: DispatchConfig,
    ) -> Result<Self, DispatchError> {
        let policy = Arc::new(SsrfPolicy::new(config.allow_cidrs.clone()));
        let client = delivery::build_client(Arc::clone(&policy), config.connect_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                keyring,
                client,
                policy,
                metrics,
                wake,
                gates: EndpointGate::new(config.per_endpoint_concurrency, config.max_in_flight),
                recorder: std::sync::OnceLock::new(),
                handed: Handed::new(),
                default_schedule: RetrySchedule::new(config.default_schedule.clone()),
                config,
            }),
        })
    }

    /// Starts the attempt recorder, the claim loop, the circuit sampler and the janitor
    /// on `tracker`.
    pub fn spawn(self, tracker: &TaskTracker, shutdown: CancellationToken) {
        let recorder = AttemptRecorder::spawn(
            Arc::clone(&self.inner.store),
            self.inner.config.recorder,
            tracker,
        );
        // Only `spawn` sets it, once per dispatcher; a second call keeps the first.
        let _ = self.inner.recorder.set(recorder);
        let (dispatcher, stop, attempts) = (self.clone(), shutdown.clone(), tracker.clone());
        tracker.spawn(async move { dispatcher.claim_loop(stop, attempts).await });
        if let Some(handed) = self.inner.handed.take_receiver() {
            let (dispatcher, stop, attempts) = (self.clone(), shutdown.clone(), tracker.clone());
            tracker.spawn(async move { dispatcher.start_handed(handed, stop, attempts).await });
        }
        let (dispatcher, stop) = (self.clone(), shutdown.clone());
        tracker.spawn(async move { dispatcher.sample_circuits(stop).await });
        let (dispatcher, stop) = (self.clone(), shutdown.clone());
        tracker.spawn(async move { dispatcher.housekeeping(stop).await });
        tracker.spawn(async move { self.janitor(shutdown).await });
    }

    async fn claim_loop(&self, shutdown: CancellationToken, attempts: TaskTracker) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !shutdown.is_cancelled() {
            match self.claim_round(&attempts).await {
                Ok(Round::Full) => backoff.reset(),
                Ok(round) => {
                    backoff.reset();
                    self.idle(round, &shutdown).await;
                }
                Err(error) => {
                    let delay = backoff.next_delay(rand::thread_rng().gen());
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "delivery claim failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
            }
        }
    }

    async fn idle(&self, round: Round, shutdown: &CancellationToken) {
        let gates = &self.inner.gates;
        let freed = async {
            match round {
                Round::Partial => gates.freed().notified().await,
                Round::Full | Round::Empty => std::future::pending().await,
            }
        };
        // While endpoints are full, a claim for new events mostly skips their
        // backlog: wait longer for more events, or for room, whichever comes first.
        let linger = match round {
            Round::Partial => BUSY_WAKE_LINGER,
            Round::Full | Round::Empty => WAKE_LINGER,
        };
        tokio::select! {
            () = self.inner.wake.notified() => {
                tokio::select! {
                    () = tokio::time::sleep(linger) => {}
                    () = gates.freed().notified(), if round == Round::Partial => {}
                }
            }
            () = freed => {}
            () = tokio::time::sleep(self.inner.config.poll_interval) => {}
            () = shutdown.cancelled() => {}
        }
    }

    /// Claims what can start now (per endpoint, within the instance's limit) and
    /// starts it.
    async fn claim_round(&self, attempts: &TaskTracker) -> Result<Round, StoreError> {
        let gates = &self.inner.gates;
        gates.arm();
        let asked = self.inner.config.batch_size.min(gates.free());
        if asked == 0 {
            return Ok(Round::Partial);
        }
        let limits = ClaimLimits {
            total: asked,
            per_endpoint: gates.concurrency(),
            room: gates.room(Instant::now()),
        };
        let now = Utc::now();
        let due = self
            .inner
            .store
            .claim_due_deliveries(&limits, now, now + chrono(self.inner.config.lease))
            .await?;
        tracing::debug!(asked, claimed = due.len(), room = ?limits.room, "claimed deliveries");
        let someone_full = limits.room.iter().any(|(_, room)| *room == 0);
        let round = match due.len() {
            n if n == asked => Round::Full,
            0 if !someone_full => Round::Empty,
            _ => Round::Partial,
        };
        if due.is_empty() {
            return Ok(round);
        }
        self.start_claimed(due, attempts, now).await?;
        Ok(round)
    }

    /// Starts the deliveries the intake wrote claimed for this instance, as they come,
    /// until shutdown; then the channel closes and the intake hands off no more.
    async fn start_handed(
        &self,
        mut handed: HandedReceiver,
        shutdown: CancellationToken,
        attempts: TaskTracker,
    ) {
        loop {
            let claimed = tokio::select! {
                claimed = handed.recv() => claimed,
                () = shutdown.cancelled() => None,
            };
            let Some(claimed) = claimed else { break };
            tracing::debug!(handed = claimed.len(), "deliveries handed off");
            if let Err(error) = self.start_claimed(claimed, &attempts, Utc::now()).await {
                tracing::warn!(%error, "cannot start handed-off deliveries");
            }
        }
    }

    /// Opens the claimed deliveries' endpoint secrets and starts them; when the secrets
    /// cannot be read, they wait [`SECRETS_RETRY`] for a later claim.
    async fn start_claimed(
        &self,
        due: Vec<DueDelivery>,
        attempts: &TaskTracker,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let secrets = match self.open_secrets(&due, now).await {
            Ok(secrets) => secrets,
            Err(error) => {
                let retry: Vec<_> = due
                    .iter()
                    .map(|item| (item.delivery.id.clone(), now + SECRETS_RETRY))
                    .collect();
                let _ = self.inner.store.defer_deliveries(&retry).await;
                return Err(error);
            }
        };
        self.start(due, &secrets, attempts, now).await
    }

    /// Each claimed endpoint's unexpired secrets, read in one go and opened once, and
    /// its retry schedule, parsed once.
    async fn open_secrets(
        &self,
        due: &[DueDelivery],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, EndpointSecrets>, StoreError> {
        let mut ids: Vec<String> = due.iter().map(|item| item.endpoint.id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let stored = self.inner.store.endpoint_secrets(&ids).await?;
        let mut by_endpoint: HashMap<&str, Vec<StoredSecret>> = HashMap::new();
        for secret in stored {
            if let Some(id) = ids.iter().find(|id| **id == secret.owner_id) {
                by_endpoint.entry(id.as_str()).or_default().push(secret);
            }
        }
        let schedules: HashMap<&str, Option<&str>> = due
            .iter()
            .map(|item| {
                let endpoint = &item.endpoint;
                (endpoint.id.as_str(), endpoint.retry_schedule.as_deref())
            })
            .collect();
        Ok(ids
            .iter()
            .map(|id| {
                let stored = by_endpoint.get(id.as_str()).map_or(&[][..], Vec::as_slice);
                let keys = open_active(&self.inner.keyring, stored, now)
                    .iter()
                    .map(|(_, secret)| SigningKey::new(secret.expose()))
                    .collect();
                let schedule = schedules
                    .get(id.as_str())
                    .copied()
                    .flatten()
                    .and_then(|s| parse_schedule(s).ok())
                    .map(RetrySchedule::new);
                (id.clone(), Arc::new(EndpointPrepared { keys, schedule }))
            })
            .collect())
    }

    /// Starts each claimed delivery its gate lets go; defers the rest in one statement.
    async fn start(
        &self,
        due: Vec<DueDelivery>,
        secrets: &HashMap<String, EndpointSecrets>,
        attempts: &TaskTracker,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut deferred = Vec::new();
        for item in due {
            match self.inner.gates.enter(&item.endpoint, Instant::now()) {
                Gate::Go(permit) => {
                    let keys = secrets.get(&item.endpoint.id).cloned().unwrap_or_else(|| {
                        Arc::new(EndpointPrepared {
                            keys: Ok(Vec::new()),
                            schedule: None,
                        })
                    });
                    let dispatcher = self.clone();
                    let span = span::attempt(&item);
                    attempts.spawn(
                        async move { dispatcher.deliver(item, keys, permit).await }
                            .instrument(span),
                    );
                }
                Gate::Wait(wait) => deferred.push((item.delivery.id, now + chrono(wait))),
            }
        }
        self.inner.store.defer_deliveries(&deferred).await
    }

    /// One attempt of one delivery, recorded with the delivery's next state.
    async fn deliver(
        &self,
        item: DueDelivery,
        secrets: EndpointSecrets,
        permit: endpoints::Permit,
    ) {
        let attempt_no = item.delivery.attempts + 1;
        let now = Utc::now();
        let body = payload::body(
            &item.event.event_type,
            item.event.occurred_at,
            &item.event.data,
        );
        // Exported, the backend continues this attempt's span; else a new span id
        // under the run event's trace.
        let traceparent =
            crate::telemetry::traceparent(&tracing::Span::current()).unwrap_or_else(|| {
                child_traceparent(item.event.traceparent.as_deref(), rand::random())
            });
        let signed = secrets
            .keys
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|keys| payload::headers(&item.event.id, now.timestamp(), &body, keys))
            .map(|mut headers| {
                headers.push(("traceparent", traceparent));
                headers
            })
            .and_then(|headers| payload::header_map(&headers).map(|map| (headers, map)));
        let url = reqwest::Url::parse(&item.endpoint.url);
        let (result, request_headers) = match (signed, url) {
            (Ok((headers, map)), Ok(url)) => {
                let timeout = Duration::from_millis(u64::from(item.endpoint.timeout_ms));
                let result = delivery::attempt(
                    &self.inner.client,
                    &self.inner.policy,
                    &url,
                    map,
                    body.into(),
                    timeout,
                )
                .await;
                let logged = headers
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                (Some(result), logged)
            }
            (signed, url) => {
                tracing::error!(
                    signing_failed = signed.is_err(),
                    url_invalid = url.is_err(),
                    "cannot build the request"
                );
                (None, Vec::new())
            }
        };
        let outcome = result.as_ref().map_or(
            AttemptOutcome::from_error(delivery::ErrorClass::Connect),
            delivery::AttemptResult::outcome,
        );
        span::record_outcome(&tracing::Span::current(), &outcome);
        permit.finish(
            matches!(outcome, AttemptOutcome::Delivered { .. }),
            std::time::Instant::now(),
        );
        let decision = delivery::decide(
            outcome,
            attempt_no,
            secrets
                .schedule
                .as_ref()
                .unwrap_or(&self.inner.default_schedule),
            rand::thread_rng().gen(),
        );
        self.record(
            &item,
            attempt_no,
            now,
            result,
            request_headers,
            outcome,
            decision,
        )
        .await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        item: &DueDelivery,
        attempt_no: u32,
        started_at: DateTime<Utc>,
        result: Option<delivery::AttemptResult>,
        request_headers: Vec<(String, String)>,
        outcome: AttemptOutcome,
        decision: Decision,
    ) {
        let finished = Utc::now();
        let (status, next_attempt_at) = match decision {
            Decision::Delivered => (DeliveryStatus::Delivered, None),
            Decision::RetryIn(delay) => (DeliveryStatus::Pending, Some(finished + chrono(delay))),
            Decision::GiveUp | Decision::DisableEndpoint => (DeliveryStatus::Failed, None),
        };
        let (response, duration) = match &result {
            Some(r) => (r.response.as_ref().ok(), r.duration),
            None => (None, Duration::ZERO),
        };
        let error_class = match outcome {
            AttemptOutcome::Failed { class, .. } => Some(class.as_str().to_owned()),
            AttemptOutcome::Gone => Some("http_status".to_owned()),
            AttemptOutcome::Delivered { .. } => None,
        };
        let record = AttemptRecord {
            attempt: Attempt {
                delivery_id: item.delivery.id.clone(),
                attempt: attempt_no,
                started_at: result.as_ref().map_or(started_at, |r| r.started_at),
                duration_ms: u32::try_from(duration.as_millis()).unwrap_or(u32::MAX),
                request_url: item.endpoint.url.clone(),
                request_headers,
                response_status: response.map(|r| r.status),
                response_headers: response.map(|r| r.headers.clone()),
                response_body: response.map(|r| r.body_prefix.clone()),
                error_class: error_class.clone(),
                next_attempt_at,
            },
            status,
            next_attempt_at,
            last_error: error_class,
            endpoint_ok: matches!(outcome, AttemptOutcome::Delivered { .. }),
        };
        self.inner
            .metrics
            .delivery_attempt(outcome_label(decision), duration.as_secs_f64());
        self.inner.metrics.activity.record(
            &item.endpoint.org,
            &item.endpoint.id,
            outcome_label(decision),
            finished,
        );
        tracing::info!(
            http.status = response.map(|r| r.status),
            duration_ms = duration.as_millis() as u64,
            outcome = outcome_label(decision),
            "delivery attempt"
        );
        let endpoint_ok = record.endpoint_ok;
        if self.log_attempt(record).await.is_err() {
            // The recorder said why; the claim lease expires and the attempt is made
            // again: at-least-once.
            return;
        }
        let failing_too_long = !endpoint_ok
            && item
                .endpoint
                .failing_since
                .is_some_and(|since| finished - since > chrono(self.inner.config.disable_after));
        if decision == Decision::DisableEndpoint {
            self.disable(item, "gone", finished).await;
        } else if failing_too_long {
            self.disable(item, "failing", finished).await;
        }
    }

    /// Hands the record to the recorder's group commit and waits for the commit.
    async fn log_attempt(&self, record: AttemptRecord) -> Result<(), NotRecorded> {
        // Set by `spawn` before the claim loop starts the first attempt.
        let recorder = self.inner.recorder.get().ok_or(NotRecorded)?;
        recorder.record(record).await
    }

    /// Disables the endpoint and tells the org's other endpoints (`endpoint.disabled`).
    async fn disable(&self, item: &DueDelivery, reason: &str, at: DateTime<Utc>) {
        let endpoint = &item.endpoint;
        let audit = AuditEntry::new(
            &endpoint.org,
            "hookgate".into(),
            AuditAction::EndpointDisabled,
            &endpoint.id,
            serde_json::json!({"reason": reason, "url": endpoint.url}),
        );
        match self
            .inner
            .store
            .disable_endpoint(&endpoint.id, reason, at, &audit)
            .await
        {
            Ok(true) => {
                self.inner.metrics.endpoint_disabled(if reason == "gone" {
                    "gone"
                } else {
                    "failing"
                });
                tracing::warn!(reason, "endpoint disabled");
                let event = RunEvent {
                    id: new_id("evt"),
                    org: endpoint.org.clone(),
                    event_type: "endpoint.disabled".into(),
                    run_id: None,
                    workflow_id: None,
                    occurred_at: at,
                    data: serde_json::json!({"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason}),
                    received_at: at,
                    traceparent: None,
                };
                match self.inner.store.record_run_event(&event, None).await {
                    Ok(recorded) if recorded.deliveries > 0 => self.inner.wake.notify_one(),
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "cannot emit endpoint.disabled"),
                }
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "cannot disable endpoint"),
        }
    }

    /// Exports how many endpoints have their circuit closed, open or half-open.
    async fn sample_circuits(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            for (state, count) in self.inner.gates.circuit_counts() {
                self.inner.metrics.circuits(state.as_str(), count);
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// The store's delivery housekeeping: every 2 s (stale statistics are refreshed at
    /// once: a fan-out burst changes the table's shape in seconds), a VACUUM every
    /// 10 s (every claim and every attempt rewrites a delivery row).
    async fn housekeeping(&self, shutdown: CancellationToken) {
        let mut round: u64 = 0;
        while !shutdown.is_cancelled() {
            let vacuum = round % 5 == 4;
            if let Err(error) = self.inner.store.maintain_deliveries(vacuum).await {
                tracing::warn!(%error, "delivery housekeeping failed");
            }
            round += 1;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Drops attempt bodies past their retention, hourly.
    async fn janitor(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let before = Utc::now() - chrono(self.inner.config.attempt_body_retention);
            match self.inner.store.purge_attempt_bodies(before).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "dropped attempt bodies past retention"),
                Err(error) => tracing::warn!(%error, "attempt body janitor failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }
}

fn outcome_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Delivered => "delivered",
        Decision::RetryIn(_) => "retrying",
        Decision::GiveUp => "failed",
        Decision::DisableEndpoint => "gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attempt_outcome_is_a_series_created_at_start() {
        let decisions = [
            Decision::Delivered,
            Decision::RetryIn(Duration::from_secs(1)),
            Decision::GiveUp,
            Decision::DisableEndpoint,
        ];
        for decision in decisions {
            let label = outcome_label(decision);
            assert!(
                crate::metrics::labels::DELIVERY_OUTCOMES.contains(&label),
                "{label}"
            );
        }
    }
}
