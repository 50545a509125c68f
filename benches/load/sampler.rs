//! Samples hookgate's memory, the answers so far and the runs consumed so far at a fixed
//! interval while the load runs; optionally prints each sample as it is taken (soak).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::driver::Progress;
use crate::procfs::{self, Memory};

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    /// Wall clock at the sample, to match the timeline with the servers' logs.
    pub wall: chrono::DateTime<chrono::Utc>,
    pub memory: Memory,
    pub answered: u64,
    pub ok: u64,
    /// Messages the runs consumer had received (production mode).
    pub consumed: Option<u64>,
    /// Slowest answer since the previous sample, and answers slower than `driver::SLOW`.
    pub slowest: Duration,
    pub slow: u64,
}

pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    pub fn start(
        pid: u32,
        every: Duration,
        live: bool,
        progress: Arc<Progress>,
        consumed: Option<Arc<AtomicU64>>,
    ) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut samples: Vec<Sample> = Vec::new();
            let mut ticker = tokio::time::interval_at(start + every, every);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                let Some(memory) = procfs::memory(pid) else {
                    break;
                };
                let sample = Sample {
                    at: start.elapsed(),
                    wall: chrono::Utc::now(),
                    memory,
                    answered: progress.answered.load(Ordering::Relaxed),
                    ok: progress.ok.load(Ordering::Relaxed),
                    consumed: consumed.as_ref().map(|c| c.load(Ordering::Relaxed)),
                    slowest: Duration::from_micros(progress.slowest_us.swap(0, Ordering::Relaxed)),
                    slow: progress.slow.swap(0, Ordering::Relaxed),
                };
                if live {
                    print_live(samples.last(), &sample);
                }
                samples.push(sample);
            }
            samples
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn print_live(previous: Option<&Sample>, sample: &Sample) {
    let (t0, answered0) = previous.map_or((Duration::ZERO, 0), |p| (p.at, p.answered));
    let rate = (sample.answered - answered0) as f64 / (sample.at - t0).as_secs_f64().max(1e-9);
    let backlog = sample
        .consumed
        .map(|c| format!(", unconsumed {}", sample.ok.saturating_sub(c)))
        .unwrap_or_default();
    println!(
        "sample t={:>5.0}s  rss {:>7.1} MiB  hwm {:>7.1} MiB  answered {:>8} ({:>7.0}/s)  2xx {:>8}{backlog}, slowest {:.0} ms, {} over {} ms",
        sample.at.as_secs_f64(),
        procfs::mib(sample.memory.rss_kib),
        procfs::mib(sample.memory.hwm_kib),
        sample.answered,
        rate,
        sample.ok,
        sample.slowest.as_secs_f64() * 1e3,
        sample.slow,
        crate::driver::SLOW.as_millis(),
    );
}
