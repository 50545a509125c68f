//! The fast path from this instance's ingress writers to its relay: runs committed
//! with their outbox rows already claimed are handed over in memory, so publishing
//! needs no claim query and starts the moment the batch commits.
//!
//! The claim (a lease in the store) keeps other relays off these rows; if this
//! process dies before the confirm, the lease runs out and any relay's poll takes
//! them, so a crash still loses nothing. Capacity is bounded by a semaphore of runs:
//! when it is used up (the broker is slow or down), writers commit unclaimed rows and
//! the relay's claim path picks them up instead, so ingress never waits on the broker.

use crate::store::OutboxItem;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex, OwnedSemaphorePermit, Semaphore};

/// Runs handed over together, with the capacity they hold until published.
pub struct Handed {
    pub items: Vec<OutboxItem>,
    _capacity: OwnedSemaphorePermit,
}

/// The writers' end.
#[derive(Clone)]
pub struct HandoffSender {
    capacity: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<Handed>,
    lease: Duration,
}

/// The relay's end, shared by its workers.
#[derive(Clone)]
pub struct HandoffReceiver {
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Handed>>>,
}

/// Capacity reserved for one batch's runs, before its transaction.
pub struct Reservation {
    permit: OwnedSemaphorePermit,
    sender: mpsc::UnboundedSender<Handed>,
    claim_until: DateTime<Utc>,
}

/// A handoff holding at most `capacity` runs not yet published.
pub fn handoff(capacity: usize, lease: Duration) -> (HandoffSender, HandoffReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let sender = HandoffSender {
        capacity: Arc::new(Semaphore::new(capacity.min(Semaphore::MAX_PERMITS))),
        sender,
        lease,
    };
    let receiver = HandoffReceiver {
        receiver: Arc::new(Mutex::new(receiver)),
    };
    (sender, receiver)
}

impl HandoffSender {
    /// Room for `runs` more, or `None` when the relay is that far behind.
    pub fn try_reserve(&self, runs: usize, now: DateTime<Utc>) -> Option<Reservation> {
        let runs = u32::try_from(runs).ok()?;
        let permit = Arc::clone(&self.capacity)
            .try_acquire_many_owned(runs)
            .ok()?;
        Some(Reservation {
            permit,
            sender: self.sender.clone(),
            claim_until: now + chrono::Duration::from_std(self.lease).ok()?,
        })
    }
}

impl Reservation {
    /// Until when the batch's outbox rows are claimed for this relay.
    pub fn claim_until(&self) -> DateTime<Utc> {
        self.claim_until
    }

    /// Hands the committed runs to the relay. If the relay has stopped, the claims
    /// simply run out and a poll publishes them.
    pub fn send(self, items: Vec<OutboxItem>) {
        if items.is_empty() {
            return;
        }
        let _ = self.sender.send(Handed {
            items,
            _capacity: self.permit,
        });
    }
}

impl HandoffReceiver {
    /// The next handed-over runs and whatever else is waiting, up to about `max`
    /// runs; `None` once every writer has stopped and nothing is left.
    pub async fn next_batch(&self, max: usize) -> Option<Vec<Handed>> {
        let mut receiver = self.receiver.lock().await;
        let first = receiver.recv().await?;
        let mut total = first.items.len();
        let mut batch = vec![first];
        while total < max {
            match receiver.try_recv() {
                Ok(more) => {
                    total += more.items.len();
                    batch.push(more);
                }
                Err(_) => break,
            }
        }
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn item(id: &str) -> OutboxItem {
        OutboxItem {
            run_id: id.into(),
            workflow_id: "wf".into(),
            message: Bytes::from_static(b"{}"),
            message_headers: Vec::new(),
            enqueued_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn refuses_reservations_beyond_capacity_until_runs_are_published() {
        let (sender, receiver) = handoff(3, Duration::from_secs(30));
        let now = Utc::now();
        let first = sender.try_reserve(2, now).expect("room for two");
        assert!(sender.try_reserve(2, now).is_none());
        first.send(vec![item("run_a"), item("run_b")]);
        let handed = receiver.next_batch(10).await.expect("a batch");
        assert!(
            sender.try_reserve(2, now).is_none(),
            "still held while publishing"
        );
        drop(handed);
        assert!(sender.try_reserve(2, now).is_some());
    }

    #[tokio::test]
    async fn claims_for_the_lease_and_coalesces_waiting_batches() {
        let (sender, receiver) = handoff(100, Duration::from_secs(30));
        let now = Utc::now();
        let a = sender.try_reserve(1, now).expect("room");
        assert_eq!(a.claim_until(), now + chrono::Duration::seconds(30));
        a.send(vec![item("run_a")]);
        sender
            .try_reserve(2, now)
            .expect("room")
            .send(vec![item("run_b"), item("run_c")]);
        let batch = receiver.next_batch(10).await.expect("a batch");
        let ids: Vec<&str> = batch
            .iter()
            .flat_map(|h| h.items.iter().map(|i| i.run_id.as_str()))
            .collect();
        assert_eq!(ids, ["run_a", "run_b", "run_c"]);
    }

    #[tokio::test]
    async fn ends_once_every_writer_is_gone() {
        let (sender, receiver) = handoff(10, Duration::from_secs(30));
        drop(sender);
        assert!(receiver.next_batch(10).await.is_none());
    }
}
