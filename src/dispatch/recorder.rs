//! Group commit for the attempt log (SPEC §6: every attempt logged): attempt tasks
//! hand their record to a queue; a few writers each take what is waiting (up to a
//! batch) and write it with the deliveries' next state in one transaction, answering
//! every task when it commits.
//!
//! One transaction per batch instead of per attempt is what lets the store keep up
//! with thousands of attempts a second. A record that is never committed is not lost
//! work: its delivery's claim lease expires and the attempt is made again.

use crate::store::{AttemptRecord, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_util::task::TaskTracker;

/// How long a writer waits before trying a failed batch again (a deadlock victim, a
/// dropped connection), before it falls back to one record at a time.
const RETRY_DELAY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Concurrent writers (each one transaction at a time, on its own connection).
    pub writers: usize,
    /// Most attempts per transaction.
    pub max_batch: usize,
    /// Records waiting beyond this make attempt tasks wait to hand theirs over.
    pub queue: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the attempt was not recorded")]
pub struct NotRecorded;

struct Job {
    record: AttemptRecord,
    reply: oneshot::Sender<Result<(), NotRecorded>>,
}

#[derive(Clone)]
pub struct AttemptRecorder {
    sender: mpsc::Sender<Job>,
}

impl AttemptRecorder {
    /// Starts the writers on `tracker`. They stop once every `AttemptRecorder` clone is
    /// dropped and the queue is drained, so every finished attempt gets its write.
    pub fn spawn(store: Arc<dyn Store>, config: RecorderConfig, tracker: &TaskTracker) -> Self {
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..config.writers.max(1) {
            let (store, receiver) = (Arc::clone(&store), Arc::clone(&receiver));
            let max_batch = config.max_batch.max(1);
            tracker.spawn(async move { write_batches(store, receiver, max_batch).await });
        }
        Self { sender }
    }

    /// Writes one attempt and its delivery's next state, with whatever else is waiting;
    /// returns once it is committed.
    pub async fn record(&self, record: AttemptRecord) -> Result<(), NotRecorded> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job { record, reply })
            .await
            .map_err(|_| NotRecorded)?;
        answer.await.map_err(|_| NotRecorded)?
    }
}

/// Waits for the first record, then takes whatever else is already queued.
async fn next_batch(receiver: &Mutex<mpsc::Receiver<Job>>, max_batch: usize) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(max_batch.min(256));
    receiver.lock().await.recv_many(&mut jobs, max_batch).await;
    jobs
}

async fn write_batches(
    store: Arc<dyn Store>,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
) {
    loop {
        let jobs = next_batch(&receiver, max_batch).await;
        if jobs.is_empty() {
            return; // Every sender is gone and the queue is drained.
        }
        let (records, replies): (Vec<AttemptRecord>, Vec<_>) =
            jobs.into_iter().map(|j| (j.record, j.reply)).unzip();
        let results = write(store.as_ref(), &records).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // The attempt task may be gone (shutdown); the record is written anyway.
            let _ = reply.send(result);
        }
    }
}

/// Writes the batch, retrying once (a deadlock victim, a dropped connection); if it
/// still fails, writes each record alone so that one record the store refuses does not
/// take the others down with it.
async fn write(store: &dyn Store, records: &[AttemptRecord]) -> Vec<Result<(), NotRecorded>> {
    let all = |result: Result<(), NotRecorded>| vec![result; records.len()];
    match store.record_attempts(records).await {
        Ok(()) => return all(Ok(())),
        Err(error) => {
            tracing::warn!(%error, batch = records.len(), "attempt batch not committed; retrying");
        }
    }
    tokio::time::sleep(RETRY_DELAY).await;
    match store.record_attempts(records).await {
        Ok(()) => all(Ok(())),
        Err(error) if records.len() == 1 => {
            not_recorded(&error, &records[0]);
            all(Err(NotRecorded))
        }
        Err(_) => {
            let mut results = Vec::with_capacity(records.len());
            for record in records {
                let result = store.record_attempts(std::slice::from_ref(record)).await;
                if let Err(error) = &result {
                    not_recorded(error, record);
                }
                results.push(result.map_err(|_| NotRecorded));
            }
            results
        }
    }
}

fn not_recorded(error: &StoreError, record: &AttemptRecord) {
    // The claim lease expires and the attempt is made again: at-least-once.
    tracing::error!(%error, delivery.id = %record.attempt.delivery_id,
        "cannot record delivery attempt");
}
