//! Group commit, generically: submitters put an item on a bounded queue; a few writers
//! each take what is waiting (up to a batch) and commit it in one store call, answering
//! every submitter when that call commits.
//!
//! One commit per batch instead of per item is what lets a store that does ~3k
//! commits/s take tens of thousands of rows a second (SPEC §10). A failed batch is tried
//! once more (a deadlock victim, a dropped connection) and then item by item, so one
//! item the store refuses does not fail the others waiting with it.
//!
//! Used for delivery attempts (`dispatch::recorder`) and run events
//! (`dispatch::intake`). The ingress writer (`ingress::writer`) predates it and keeps its
//! own loop for now; it could move here: its relay reservation fits in
//! [`Committer::commit`], its shedder in [`Committer::batch_taken`] and
//! [`GroupCommit::waiting`], and its fast 503 in [`GroupCommit::try_submit`].

use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_util::task::TaskTracker;

/// How long a writer waits before trying a failed batch again, before it falls back
/// to one item at a time: long enough for a deadlock or a connection blip to clear.
const RETRY_DELAY: Duration = Duration::from_millis(50);

/// What one group commit writes, and how.
#[async_trait]
pub trait Committer: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;
    type Error: std::error::Error + Send + 'static;

    /// Commits the whole batch or nothing of it (one transaction); on success, one
    /// output per item, in the batch's order.
    async fn commit(&self, batch: &[Self::Item]) -> Result<Vec<Self::Output>, Self::Error>;

    /// A writer took a batch whose oldest item waited `oldest_wait` in the queue
    /// (what a shedder needs to refuse work that would wait too long).
    fn batch_taken(&self, _oldest_wait: Duration) {}

    /// An item could not be committed even alone; it is answered with the error.
    fn item_failed(&self, _item: &Self::Item, _error: &Self::Error) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitConfig {
    /// Concurrent writers (each one commit at a time, on its own connection).
    pub writers: usize,
    /// Most items per commit.
    pub max_batch: usize,
    /// Items waiting beyond this are refused (`try_submit`) or wait for room (`submit`).
    pub queue: usize,
}

/// Why an item was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E: std::error::Error + 'static> {
    /// The queue is full: the caller is faster than the store (answer 503 + Retry-After).
    #[error("over capacity")]
    Full,
    /// The writers have stopped (shutdown) or dropped the item without an answer.
    #[error("the group commit has stopped")]
    Stopped,
    /// The store refused the item, even committed alone.
    #[error("not committed")]
    Failed(#[source] E),
}

type Reply<C> =
    oneshot::Sender<Result<<C as Committer>::Output, CommitError<<C as Committer>::Error>>>;

struct Job<C: Committer> {
    queued_at: Instant,
    item: C::Item,
    reply: Reply<C>,
}

type Answer<C> =
    oneshot::Receiver<Result<<C as Committer>::Output, CommitError<<C as Committer>::Error>>>;

impl<C: Committer> Job<C> {
    /// The job to queue and where its answer will arrive.
    fn new(item: C::Item) -> (Self, Answer<C>) {
        let (reply, answer) = oneshot::channel();
        let job = Self {
            queued_at: Instant::now(),
            item,
            reply,
        };
        (job, answer)
    }
}

/// The submitters' end; clones share one queue and one set of writers.
pub struct GroupCommit<C: Committer> {
    sender: mpsc::Sender<Job<C>>,
}

impl<C: Committer> Clone for GroupCommit<C> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<C: Committer> GroupCommit<C> {
    /// Starts the writers on `tracker`. They stop once every `GroupCommit` clone is
    /// dropped and the queue is drained, so every accepted item gets its answer.
    pub fn spawn(committer: C, config: GroupCommitConfig, tracker: &TaskTracker) -> Self {
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let committer = Arc::new(committer);
        for _ in 0..config.writers.max(1) {
            let (committer, receiver) = (Arc::clone(&committer), Arc::clone(&receiver));
            let max_batch = config.max_batch.max(1);
            tracker.spawn(async move { write_batches(committer, receiver, max_batch).await });
        }
        Self { sender }
    }

    /// Commits `item` with whatever else is waiting, waiting for room in the queue if
    /// it is full (for callers already bounded elsewhere, e.g. by a broker's prefetch).
    pub async fn submit(&self, item: C::Item) -> Result<C::Output, CommitError<C::Error>> {
        self.enqueue(item).await?.await
    }

    /// Queues `item`, waiting for room, and returns the wait for its answer. Items are
    /// taken in the order they are queued: a caller that must keep its items in order
    /// awaits each queuing in turn and the answers together.
    pub async fn enqueue(
        &self,
        item: C::Item,
    ) -> Result<
        impl Future<Output = Result<C::Output, CommitError<C::Error>>> + Send + 'static,
        CommitError<C::Error>,
    > {
        let (job, answer) = Job::new(item);
        self.sender
            .send(job)
            .await
            .map_err(|_| CommitError::Stopped)?;
        Ok(async move { answer.await.map_err(|_| CommitError::Stopped)? })
    }

    /// Like [`submit`](Self::submit), but refuses at once with [`CommitError::Full`]
    /// when the queue is full instead of waiting without bound.
    pub async fn try_submit(&self, item: C::Item) -> Result<C::Output, CommitError<C::Error>> {
        let (job, answer) = Job::new(item);
        self.sender.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => CommitError::Full,
            mpsc::error::TrySendError::Closed(_) => CommitError::Stopped,
        })?;
        answer.await.map_err(|_| CommitError::Stopped)?
    }

    /// Items in the queue, not yet taken by a writer.
    pub fn waiting(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

async fn write_batches<C: Committer>(
    committer: Arc<C>,
    receiver: Arc<Mutex<mpsc::Receiver<Job<C>>>>,
    max_batch: usize,
) {
    loop {
        let mut jobs = Vec::with_capacity(max_batch.min(256));
        // The lock only spans the take: another writer takes the next batch while this
        // one commits.
        receiver.lock().await.recv_many(&mut jobs, max_batch).await;
        let Some(oldest) = jobs.first() else {
            return; // Every submitter is gone and the queue is drained.
        };
        committer.batch_taken(oldest.queued_at.elapsed());
        let (items, replies): (Vec<C::Item>, Vec<Reply<C>>) =
            jobs.into_iter().map(|job| (job.item, job.reply)).unzip();
        let results = commit(committer.as_ref(), &items).await;
        // A short answer (a committer bug) drops the remaining replies: those
        // submitters see `Stopped` rather than a wrong answer.
        for (reply, result) in replies.into_iter().zip(results) {
            // The submitter may be gone (client hung up); the item is committed anyway.
            let _ = reply.send(result);
        }
    }
}

/// Commits the batch, trying once more if it fails; if it still fails, commits each
/// item alone so that one item the store refuses does not take the others with it.
async fn commit<C: Committer>(
    committer: &C,
    items: &[C::Item],
) -> Vec<Result<C::Output, CommitError<C::Error>>> {
    match committer.commit(items).await {
        Ok(outputs) => return outputs.into_iter().map(Ok).collect(),
        Err(error) => tracing::warn!(%error, batch = items.len(), "batch not committed; retrying"),
    }
    tokio::time::sleep(RETRY_DELAY).await;
    let error = match committer.commit(items).await {
        Ok(outputs) => return outputs.into_iter().map(Ok).collect(),
        Err(error) => error,
    };
    if let [item] = items {
        committer.item_failed(item, &error);
        return vec![Err(CommitError::Failed(error))];
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let alone = committer.commit(std::slice::from_ref(item)).await;
        results.push(match alone.map(|mut outputs| outputs.pop()) {
            Ok(Some(output)) => Ok(output),
            Ok(None) => Err(CommitError::Stopped),
            Err(error) => {
                committer.item_failed(item, &error);
                Err(CommitError::Failed(error))
            }
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refused;

    /// Doubles numbers; refuses any batch holding a negative one. Records each batch.
    #[derive(Default)]
    struct Doubler {
        batches: StdMutex<Vec<Vec<i32>>>,
    }

    #[async_trait]
    impl Committer for Arc<Doubler> {
        type Item = i32;
        type Output = i32;
        type Error = Refused;

        async fn commit(&self, batch: &[i32]) -> Result<Vec<i32>, Refused> {
            if let Ok(mut batches) = self.batches.lock() {
                batches.push(batch.to_vec());
            }
            if batch.iter().any(|n| *n < 0) {
                return Err(Refused);
            }
            Ok(batch.iter().map(|n| n * 2).collect())
        }
    }

    fn config(writers: usize, max_batch: usize, queue: usize) -> GroupCommitConfig {
        GroupCommitConfig {
            writers,
            max_batch,
            queue,
        }
    }

    async fn submit_all(group: &GroupCommit<Arc<Doubler>>, items: &[i32]) -> Vec<Option<i32>> {
        let answers = items.iter().map(|n| group.submit(*n));
        futures_util::future::join_all(answers)
            .await
            .into_iter()
            .map(Result::ok)
            .collect()
    }

    #[tokio::test]
    async fn items_waiting_together_are_committed_in_one_batch_and_answered_in_order() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(1, 64, 64), &tracker);
        let answers = submit_all(&group, &[1, 2, 3, 4]).await;
        assert_eq!(answers, [Some(2), Some(4), Some(6), Some(8)]);
        let batches = doubler
            .batches
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        assert_eq!(batches, [vec![1, 2, 3, 4]]);
    }

    #[tokio::test]
    async fn items_queued_in_turn_commit_in_that_order_while_their_answers_are_awaited_together() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        // A queue of two: most items wait for room before they are queued.
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(1, 3, 2), &tracker);
        let mut answers = Vec::new();
        for n in 0..300 {
            answers.push(group.enqueue(n).await.unwrap());
        }
        let answers: Vec<i32> = futures_util::future::join_all(answers)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(answers, (0..300).map(|n| n * 2).collect::<Vec<_>>());
        let committed: Vec<i32> = doubler
            .batches
            .lock()
            .map(|b| b.concat())
            .unwrap_or_default();
        assert_eq!(committed, (0..300).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_refused_item_fails_alone_after_one_retry_and_the_rest_commit() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(1, 64, 64), &tracker);
        let answers = submit_all(&group, &[1, -1, 3]).await;
        assert_eq!(answers, [Some(2), None, Some(6)]);
        let batches = doubler
            .batches
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        assert_eq!(
            batches,
            [vec![1, -1, 3], vec![1, -1, 3], vec![1], vec![-1], vec![3]]
        );
        assert!(matches!(
            group.submit(-2).await,
            Err(CommitError::Failed(Refused))
        ));
    }

    #[tokio::test]
    async fn batches_never_exceed_the_maximum() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(2, 3, 64), &tracker);
        let items: Vec<i32> = (0..20).collect();
        let answers = submit_all(&group, &items).await;
        let expected: Vec<Option<i32>> = items.iter().map(|n| Some(n * 2)).collect();
        assert_eq!(answers, expected);
        let batches = doubler
            .batches
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        assert!(
            batches.iter().all(|b| (1..=3).contains(&b.len())),
            "{batches:?}"
        );
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 20);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_waiting() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(1, 1, 1), &tracker);
        // Hold the writers off the queue: the current-thread runtime runs them only
        // when this task yields, so the first item fills the queue.
        let first = group.try_submit(1);
        let second = group.try_submit(2);
        let (first, second) = futures_util::future::join(first, second).await;
        assert_eq!(first.ok(), Some(2));
        assert!(matches!(second, Err(CommitError::Full)));
    }

    #[tokio::test]
    async fn writers_stop_once_every_submitter_is_gone() {
        let doubler = Arc::new(Doubler::default());
        let tracker = TaskTracker::new();
        let group = GroupCommit::spawn(Arc::clone(&doubler), config(2, 8, 8), &tracker);
        assert_eq!(group.submit(5).await.ok(), Some(10));
        drop(group);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .ok();
        assert!(tracker.is_empty());
    }
}
