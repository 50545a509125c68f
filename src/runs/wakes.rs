//! News of run timelines for live readers (SPEC §12): this instance's run-event commits
//! and, in production mode, other instances' (heard by the store's listener) go out on
//! one broadcast. A reader re-reads its run's timeline from the store when woken, so
//! the broadcast carries no events, only which runs moved; a reader that lags behind
//! it is woken at once and loses nothing.

use crate::store::{RunWake, RunWakeFn};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Wakes kept for a reader that has not looked yet; beyond, it re-reads anyway.
const CAPACITY: usize = 256;

#[derive(Clone)]
pub struct RunWakes {
    sender: broadcast::Sender<Arc<RunWake>>,
}

impl Default for RunWakes {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl RunWakes {
    pub fn wake(&self, wake: RunWake) {
        // No receiver means nobody is reading a stream: nothing to do.
        let _ = self.sender.send(Arc::new(wake));
    }

    /// For the store's listener.
    pub fn callback(&self) -> RunWakeFn {
        let wakes = self.clone();
        Arc::new(move |wake| wakes.wake(wake))
    }

    /// Watches one run, from now on.
    pub fn watch(&self, org: &str, run_id: &str) -> RunWatch {
        RunWatch {
            receiver: self.sender.subscribe(),
            org: org.to_owned(),
            run_id: run_id.to_owned(),
        }
    }
}

pub struct RunWatch {
    receiver: broadcast::Receiver<Arc<RunWake>>,
    org: String,
    run_id: String,
}

impl RunWatch {
    /// Returns once the run may have new events: a wake names it, names every run, or
    /// wakes were missed.
    pub async fn moved(&mut self) {
        loop {
            match self.receiver.recv().await {
                Ok(wake) if wake.touches(&self.org, &self.run_id) => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                // Nobody will send again: wait for the caller's own timer.
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_watch_wakes_for_its_run_for_every_run_and_after_lagging() {
        let wakes = RunWakes::default();
        let mut watch = wakes.watch("acme", "run_1");
        wakes.wake(RunWake::Runs(vec![("acme".into(), "run_2".into())]));
        wakes.wake(RunWake::Runs(vec![("acme".into(), "run_1".into())]));
        tokio::time::timeout(Duration::from_secs(1), watch.moved())
            .await
            .expect("woken for its run");
        let quiet = tokio::time::timeout(Duration::from_millis(50), watch.moved()).await;
        assert!(quiet.is_err(), "not woken by nothing");
        wakes.wake(RunWake::All);
        tokio::time::timeout(Duration::from_secs(1), watch.moved())
            .await
            .expect("woken for every run");
        for _ in 0..CAPACITY + 10 {
            wakes.wake(RunWake::Runs(vec![("acme".into(), "run_2".into())]));
        }
        tokio::time::timeout(Duration::from_secs(1), watch.moved())
            .await
            .expect("woken after lagging");
    }
}
