//! Group commit for ingress: requests hand their verified event to a bounded queue;
//! a few writers each take what is waiting (up to a batch) and commit it in one
//! transaction, answering every request of the batch when it commits.
//!
//! One commit per batch instead of per request is what lets a store that does ~3k
//! commits/s take ~10k events/s (SPEC §10). A full queue answers at once (503 +
//! Retry-After) instead of queueing without bound.
//!
//! Beyond capacity, events that would wait longer than `max_wait` for a commit are
//! refused at once too (see [`Shedder`]), so overload answers fast instead of slowly.
//!
//! A writer that finds only a few events waiting lingers (1 ms by default) for more
//! before it commits: PostgreSQL's cost is mostly per statement, and at moderate rates
//! batches were small: with it PostgreSQL used 0.47–0.51 cores instead of 0.59–0.60 at
//! 5,000/s, and ~13 % less CPU per event at max rate (BENCHMARKS.md, "Findings
//! behind the current design").
//!
//! Committed runs go straight to this instance's relay through the handoff (their
//! outbox rows claimed in the same transaction); when the handoff is full or there is
//! no relay here, the rows are committed unclaimed and the relay is woken to claim them.

use super::shed::Shedder;
use crate::relay::HandoffSender;
use crate::store::{AcceptOutcome, EventWrite, OutboxItem, Store, StoreError};
use crate::telemetry::SPAN_TARGET;
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Mutex, Notify};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Concurrent writers (each one transaction at a time, on its own connection).
    pub writers: usize,
    /// Most events per transaction.
    pub max_batch: usize,
    /// Events waiting beyond this are refused with 503.
    pub queue: usize,
    /// While batches wait longer than this for a writer, new events are refused with 503.
    pub max_wait: Duration,
    /// A writer that finds fewer than a quarter of `max_batch` events waiting waits this
    /// long for more before committing (zero: never). Fewer, fuller commits cost
    /// PostgreSQL less per event at moderate rates, for this much more latency.
    pub linger: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            writers: 2,
            max_batch: 64,
            queue: 4096,
            max_wait: Duration::from_millis(100),
            linger: Duration::from_millis(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("ingress is over capacity")]
    Overloaded,
    #[error("store unavailable")]
    Unavailable,
    /// The store cannot hold this event (committed alone, it still failed).
    #[error("the store cannot hold the value of {0}")]
    Refused(String),
}

struct Job {
    queued_at: Instant,
    write: EventWrite,
    reply: oneshot::Sender<Result<AcceptOutcome, WriteError>>,
}

#[derive(Clone)]
pub struct IngressWriter {
    sender: mpsc::Sender<Job>,
    shed: Arc<Shedder>,
}

impl IngressWriter {
    /// Starts the writers on `tracker`. They stop once every `IngressWriter` clone is
    /// dropped and the queue is drained, so in-flight requests always get an answer.
    pub fn spawn(
        store: Arc<dyn Store>,
        relay: RelayLink,
        config: &WriterConfig,
        tracker: &TaskTracker,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let shed = Arc::new(Shedder::new(
            config.max_wait,
            config.writers,
            config.max_batch,
        ));
        for _ in 0..config.writers.max(1) {
            let queue = Intake {
                receiver: Arc::clone(&receiver),
                shed: Arc::clone(&shed),
                max_batch: config.max_batch.max(1),
                linger: config.linger,
            };
            let (store, relay) = (Arc::clone(&store), relay.clone());
            tracker.spawn(async move { write_batches(store, relay, queue).await });
        }
        Self { sender, shed }
    }

    /// Records one event (and its run) durably, with whatever else is waiting.
    pub async fn write(&self, write: EventWrite) -> Result<AcceptOutcome, WriteError> {
        let waiting = self.sender.max_capacity() - self.sender.capacity();
        if !self.shed.admits(waiting) {
            return Err(WriteError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        self.sender
            .try_send(Job {
                queued_at: Instant::now(),
                write,
                reply,
            })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => WriteError::Unavailable,
            })?;
        answer.await.map_err(|_| WriteError::Unavailable)?
    }
}

/// The writers' shared end of the queue.
struct Intake {
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    shed: Arc<Shedder>,
    max_batch: usize,
    linger: Duration,
}

/// Takes the first waiting job (waiting if none) and whatever else is already queued,
/// lingering for more when that is little, and tells the shedder how long the oldest
/// of them waited.
async fn next_batch(intake: &Intake) -> Option<Vec<Job>> {
    let mut jobs = Vec::with_capacity(intake.max_batch.min(64));
    let mut receiver = intake.receiver.lock().await;
    receiver.recv_many(&mut jobs, intake.max_batch).await;
    if !jobs.is_empty() && !intake.linger.is_zero() && jobs.len() < intake.max_batch / 4 {
        // Still holding the queue: what arrives meanwhile joins this batch.
        tokio::time::sleep(intake.linger).await;
        while jobs.len() < intake.max_batch {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
    }
    drop(receiver);
    let oldest = jobs.first()?;
    intake.shed.observe_wait(oldest.queued_at.elapsed());
    Some(jobs)
}

/// How committed runs reach a relay: handed over to this instance's, or left in the
/// outbox for whichever relay the wake (or its poll) brings.
#[derive(Clone)]
pub struct RelayLink {
    pub handoff: Option<HandoffSender>,
    pub wake: Arc<Notify>,
}

async fn write_batches(store: Arc<dyn Store>, relay: RelayLink, intake: Intake) {
    while let Some(jobs) = next_batch(&intake).await {
        let (writes, replies): (Vec<EventWrite>, Vec<_>) =
            jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
        let runs = writes.iter().filter(|w| w.run.is_some()).count();
        let reservation = match &relay.handoff {
            Some(handoff) if runs > 0 => handoff.try_reserve(runs, Utc::now()),
            _ => None,
        };
        let claim_until = reservation.as_ref().map(|r| r.claim_until());
        let started = Instant::now();
        let span = commit_span(&writes);
        match store
            .record_events(&writes, claim_until)
            .instrument(span)
            .await
        {
            Ok(outcomes) => {
                intake.shed.observe_commit(started.elapsed());
                let recorded = recorded_runs(writes, &outcomes);
                match reservation {
                    Some(reservation) => reservation.send(recorded),
                    None if !recorded.is_empty() => relay.wake.notify_one(),
                    None => {}
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The requester may have gone (client hung up); the event is recorded anyway.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) if writes.len() > 1 && error.is_about_an_item() => {
                drop(reservation);
                tracing::warn!(%error, batch = writes.len(), "ingress batch refused; committing it apart");
                commit_apart(store.as_ref(), &relay, writes, replies).await;
            }
            Err(error) => {
                tracing::warn!(%error, batch = writes.len(), "ingress batch not committed");
                let answer = match error {
                    StoreError::Refused(field) => WriteError::Refused(field),
                    _ => WriteError::Unavailable,
                };
                for reply in replies {
                    let _ = reply.send(Err(answer.clone()));
                }
            }
        }
    }
}

/// `ingress.commit`: one span per transaction, linked to the request of each event
/// it holds (a batch has many parents, so it is a root with links). Disabled, and
/// free, when traces are not exported.
fn commit_span(writes: &[EventWrite]) -> tracing::Span {
    let span = tracing::info_span!(target: SPAN_TARGET, parent: None, "ingress.commit",
        batch.size = writes.len(), db.operation.batch.size = writes.len());
    for write in writes {
        crate::telemetry::add_link(&span, &write.event.traceparent);
    }
    span
}

/// After a batch failed because of what one of its events holds: the batch is split in
/// halves, and each half committed on its own, until the event the store refuses is
/// alone (SPEC §16). One bad event among n costs about 2·log2(n) statements rather than
/// n, so the good events around it are answered in milliseconds. Their runs are left
/// in the outbox for the relay, which is woken.
async fn commit_apart(
    store: &dyn Store,
    relay: &RelayLink,
    writes: Vec<EventWrite>,
    replies: Vec<oneshot::Sender<Result<AcceptOutcome, WriteError>>>,
) {
    let mut answers: Vec<Option<Result<AcceptOutcome, WriteError>>> = vec![None; writes.len()];
    // Halves still to commit, the leftmost on top, so events commit in arrival order
    // (a de-dup key repeated in the batch goes to the earlier event).
    let mut pending = vec![(0, writes.len() / 2), (writes.len() / 2, writes.len())];
    pending.reverse();
    let mut recorded_any = false;
    while let Some((start, end)) = pending.pop() {
        if start >= end {
            continue;
        }
        let part = &writes[start..end];
        match store.record_events(part, None).await {
            Ok(outcomes) => {
                for (offset, outcome) in outcomes.into_iter().enumerate() {
                    recorded_any |= outcome == AcceptOutcome::Recorded;
                    if let Some(answer) = answers.get_mut(start + offset) {
                        *answer = Some(Ok(outcome));
                    }
                }
            }
            Err(error) if error.is_about_an_item() && end - start > 1 => {
                let middle = start + (end - start) / 2;
                pending.push((middle, end));
                pending.push((start, middle));
            }
            Err(error) => {
                let answer = match error {
                    StoreError::Refused(field) => WriteError::Refused(field),
                    _ => WriteError::Unavailable,
                };
                for slot in &mut answers[start..end] {
                    *slot = Some(Err(answer.clone()));
                }
            }
        }
    }
    if recorded_any {
        relay.wake.notify_one();
    }
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer.unwrap_or(Err(WriteError::Unavailable)));
    }
}

/// The runs a batch created, ready to publish.
fn recorded_runs(writes: Vec<EventWrite>, outcomes: &[AcceptOutcome]) -> Vec<OutboxItem> {
    writes
        .into_iter()
        .zip(outcomes)
        .filter(|(_, outcome)| **outcome == AcceptOutcome::Recorded)
        .filter_map(|(write, _)| write.run)
        .map(|run| OutboxItem {
            run_id: run.id,
            workflow_id: run.workflow_id,
            message: run.message,
            message_headers: run.message_headers,
            enqueued_at: run.created_at,
        })
        .collect()
}
