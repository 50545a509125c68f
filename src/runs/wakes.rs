//! News of run timelines for live readers (SPEC §12): this instance's run-event commits
//! and, in production mode, other instances' (heard by the store's listener) wake the
//! readers of the runs they moved. A reader re-reads its run's timeline from the store
//! when woken, so a wake carries no events, only which runs moved.
//!
//! Readers are registered by run, so a wake reaches only the readers of the runs it
//! names: with a broadcast to every reader, 1,000 open streams meant 1,000 task wake-ups
//! (each scanning the wake's list of runs) per commit, whichever runs it moved.

use crate::store::{RunWake, RunWakeFn};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct RunWakes {
    watchers: Arc<Mutex<Watchers>>,
}

#[derive(Default)]
struct Watchers {
    next_id: u64,
    /// Run id → the readers of that run.
    by_run: HashMap<String, Vec<Watcher>>,
}

struct Watcher {
    id: u64,
    org: String,
    notify: Arc<Notify>,
}

fn lock(watchers: &Mutex<Watchers>) -> MutexGuard<'_, Watchers> {
    // The map stays consistent whatever a panicking holder was doing: every change to
    // it is a single insert or remove.
    watchers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunWakes {
    pub fn wake(&self, wake: RunWake) {
        let watchers = lock(&self.watchers);
        match wake {
            RunWake::All => {
                for watcher in watchers.by_run.values().flatten() {
                    watcher.notify.notify_one();
                }
            }
            RunWake::Runs(runs) => {
                for (org, run_id) in &runs {
                    let Some(readers) = watchers.by_run.get(run_id) else {
                        continue;
                    };
                    for watcher in readers.iter().filter(|w| &w.org == org) {
                        watcher.notify.notify_one();
                    }
                }
            }
        }
    }

    /// For the store's listener.
    pub fn callback(&self) -> RunWakeFn {
        let wakes = self.clone();
        Arc::new(move |wake| wakes.wake(wake))
    }

    /// Watches one run, from now on, until the watch is dropped.
    pub fn watch(&self, org: &str, run_id: &str) -> RunWatch {
        let notify = Arc::new(Notify::new());
        let mut watchers = lock(&self.watchers);
        watchers.next_id += 1;
        let id = watchers.next_id;
        watchers
            .by_run
            .entry(run_id.to_owned())
            .or_default()
            .push(Watcher {
                id,
                org: org.to_owned(),
                notify: Arc::clone(&notify),
            });
        RunWatch {
            watchers: Arc::clone(&self.watchers),
            id,
            run_id: run_id.to_owned(),
            notify,
        }
    }

    /// Readers watching a run now.
    #[cfg(test)]
    fn watching(&self) -> usize {
        lock(&self.watchers).by_run.values().map(Vec::len).sum()
    }
}

pub struct RunWatch {
    watchers: Arc<Mutex<Watchers>>,
    id: u64,
    run_id: String,
    notify: Arc<Notify>,
}

impl RunWatch {
    /// Returns once the run may have new events: a wake named it or every run since the
    /// last call returned (wakes in between count once; none is lost).
    pub async fn moved(&mut self) {
        self.notify.notified().await;
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        let mut watchers = lock(&self.watchers);
        if let Some(readers) = watchers.by_run.get_mut(&self.run_id) {
            readers.retain(|w| w.id != self.id);
            if readers.is_empty() {
                watchers.by_run.remove(&self.run_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_watch_wakes_for_its_run_for_every_run_and_for_a_wake_before_it_waited() {
        let wakes = RunWakes::default();
        let mut watch = wakes.watch("acme", "run_1");
        wakes.wake(RunWake::Runs(vec![("acme".into(), "run_2".into())]));
        wakes.wake(RunWake::Runs(vec![("other".into(), "run_1".into())]));
        let quiet = tokio::time::timeout(Duration::from_millis(50), watch.moved()).await;
        assert!(quiet.is_err(), "not woken for another run or another org");
        // Woken before it waits: the wake is kept until it does.
        wakes.wake(RunWake::Runs(vec![("acme".into(), "run_1".into())]));
        wakes.wake(RunWake::Runs(vec![("acme".into(), "run_1".into())]));
        tokio::time::timeout(Duration::from_secs(1), watch.moved())
            .await
            .expect("woken for its run");
        let quiet = tokio::time::timeout(Duration::from_millis(50), watch.moved()).await;
        assert!(quiet.is_err(), "wakes before it looked count once");
        wakes.wake(RunWake::All);
        tokio::time::timeout(Duration::from_secs(1), watch.moved())
            .await
            .expect("woken for every run");
    }

    #[test]
    fn a_dropped_watch_is_forgotten() {
        let wakes = RunWakes::default();
        let first = wakes.watch("acme", "run_1");
        let second = wakes.watch("acme", "run_1");
        assert_eq!(wakes.watching(), 2);
        drop(first);
        assert_eq!(wakes.watching(), 1);
        drop(second);
        assert_eq!(wakes.watching(), 0);
        wakes.wake(RunWake::All);
    }
}
