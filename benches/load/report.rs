//! Plain-text output: one figure per line, `name: value unit`, grouped under `== …`
//! headings, so a run's figures can be read off directly.

use std::fmt::Display;

use crate::driver::Outcome;
use crate::histogram::Histogram;
use crate::procfs::{self, Memory};
use crate::sampler::Sample;

pub fn section(title: impl Display) {
    println!();
    println!("== {title}");
}

pub fn line(name: &str, value: impl Display) {
    println!("{name}: {value}");
}

pub fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

pub fn latency(prefix: &str, h: &Histogram) {
    line(&format!("{prefix} p50"), ms(h.quantile_us(0.50)));
    line(&format!("{prefix} p99"), ms(h.quantile_us(0.99)));
    line(&format!("{prefix} p99.9"), ms(h.quantile_us(0.999)));
    line(&format!("{prefix} max"), ms(h.max_us()));
    line(
        &format!("{prefix} mean"),
        format!("{:.2} ms", h.mean_us() / 1000.0),
    );
}

pub fn outcome(o: &Outcome) {
    line("duration", format!("{:.1} s", o.elapsed.as_secs_f64()));
    line("requests sent (incl. warm-up)", o.sent);
    line("warm-up answers (left out below)", o.warmup_answered);
    line("answered", o.answered());
    line(
        "throughput",
        format!("{:.0} req/s", o.per_second(o.answered())),
    );
    line("2xx", format!("{:.0} /s", o.per_second(o.ok.count())));
    for (status, n) in &o.statuses {
        line(&format!("status {status} (incl. warm-up)"), n);
    }
    for (reason, n) in &o.errors {
        line(&format!("no answer ({reason})"), n);
    }
    latency("latency", &o.all);
    if o.refused.count() > 0 {
        latency("non-2xx latency", &o.refused);
    }
}

/// Memory over the run: peak (VmHWM) and the VmRSS samples.
pub fn memory(samples: &[Sample], last: Option<Memory>) {
    let peak = samples
        .iter()
        .map(|s| s.memory.hwm_kib)
        .chain(last.map(|m| m.hwm_kib))
        .max()
        .unwrap_or(0);
    line("rss peak (VmHWM)", format!("{:.1} MiB", procfs::mib(peak)));
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        line(
            "rss first/last sample",
            format!(
                "{:.1} / {:.1} MiB",
                procfs::mib(first.memory.rss_kib),
                procfs::mib(last.memory.rss_kib)
            ),
        );
    }
    let every = samples
        .iter()
        .map(|s| format!("{:.1}", procfs::mib(s.memory.rss_kib)))
        .collect::<Vec<_>>()
        .join(" ");
    line("rss samples (MiB)", every);
}

/// 2xx answered minus runs consumed, at each sample: what waits in the outbox or the
/// broker. Flat means the pipeline keeps up; growing means it does not.
/// The latency tail over time: when the slow answers came.
pub fn tail(samples: &[Sample]) {
    let joined =
        |f: &dyn Fn(&Sample) -> String| samples.iter().map(f).collect::<Vec<_>>().join(" ");
    if let Some(first) = samples.first() {
        line(
            "first sample taken at",
            first.wall.format("%H:%M:%S%.3f UTC").to_string(),
        );
    }
    line(
        "slowest answer per sample (ms)",
        joined(&|s| format!("{:.0}", s.slowest.as_secs_f64() * 1e3)),
    );
    line(
        &format!(
            "answers over {} ms per sample",
            crate::driver::SLOW.as_millis()
        ),
        joined(&|s| s.slow.to_string()),
    );
}

pub fn backlog(samples: &[Sample]) {
    let values: Vec<u64> = samples
        .iter()
        .filter_map(|s| s.consumed.map(|c| s.ok.saturating_sub(c)))
        .collect();
    if values.is_empty() {
        return;
    }
    line(
        "unconsumed backlog samples (2xx − consumed)",
        values
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    );
}
