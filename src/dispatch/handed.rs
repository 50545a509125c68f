//! Deliveries handed from the run-event intake to this instance's delivery workers.
//!
//! The intake asks [`DeliveryLink::hand_off`] before each batch's transaction: what
//! the workers have room to start now. The store writes those new deliveries already
//! claimed (with the lease a claim would set) and answers them ready to send, and
//! [`DeliveryLink::deliver`] starts them: no claim statement, no claim update of each
//! row, no wait for the claim loop's next round. The rest stay pending for the claim
//! loop, as before. If this instance stops before starting them, their lease runs out
//! and any instance's claim takes them: at-least-once either way.

use super::Dispatcher;
use crate::store::{ClaimLimits, DueDelivery, HandOff};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

/// The run-event intake's way to the delivery workers: a wake for the claim loop and,
/// on an instance that delivers, the workers themselves.
#[derive(Clone)]
pub struct DeliveryLink {
    wake: Arc<Notify>,
    workers: Option<Dispatcher>,
}

/// Claimed deliveries on their way from the intake to the dispatcher's starter.
pub(super) type HandedSender = mpsc::UnboundedSender<Vec<DueDelivery>>;
pub(super) type HandedReceiver = mpsc::UnboundedReceiver<Vec<DueDelivery>>;

impl DeliveryLink {
    /// A link to `workers`, or (`None`) to a claim loop elsewhere, woken through the
    /// store only.
    pub fn new(wake: Arc<Notify>, workers: Option<Dispatcher>) -> Self {
        Self { wake, workers }
    }

    /// What a batch recorded now may write claimed for this instance's workers; `None`
    /// when they have no room (or this instance does not deliver).
    pub fn hand_off(&self, now: DateTime<Utc>) -> Option<HandOff> {
        let workers = self.workers.as_ref()?;
        let inner = &workers.inner;
        if !inner.handed.accepting() {
            return None;
        }
        let gates = &inner.gates;
        let total = inner.config.batch_size.min(gates.free());
        if total == 0 {
            return None;
        }
        let lease = chrono::Duration::from_std(inner.config.lease).ok()?;
        Some(HandOff {
            limits: ClaimLimits {
                total,
                per_endpoint: gates.concurrency(),
                room: gates.room(Instant::now()),
            },
            lease_until: now + lease,
        })
    }

    /// Starts the deliveries a committed batch wrote claimed, and wakes the claim loop
    /// when the batch created others.
    pub fn deliver(&self, claimed: Vec<DueDelivery>, unclaimed: usize) {
        if let (Some(workers), false) = (&self.workers, claimed.is_empty()) {
            workers.inner.handed.send(claimed);
        }
        if unclaimed > 0 {
            self.wake.notify_one();
        }
    }
}

/// The dispatcher's end of the handoff: open until its starter stops.
pub(super) struct Handed {
    sender: HandedSender,
    receiver: std::sync::Mutex<Option<HandedReceiver>>,
}

impl Handed {
    pub(super) fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: std::sync::Mutex::new(Some(receiver)),
        }
    }

    /// The receiver, once, for the starter that [`Dispatcher::spawn`] runs.
    pub(super) fn take_receiver(&self) -> Option<HandedReceiver> {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Whether a starter runs to take handed deliveries: before it starts and after
    /// it stops, deliveries are left to the claim loop.
    fn accepting(&self) -> bool {
        let not_started = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        !not_started && !self.sender.is_closed()
    }

    /// A stopped starter drops what it is sent; the leases then run out and a claim
    /// takes those deliveries.
    fn send(&self, claimed: Vec<DueDelivery>) {
        let _ = self.sender.send(claimed);
    }
}
