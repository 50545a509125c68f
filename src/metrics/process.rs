//! The standard `process_*` metrics (the names every Prometheus client library
//! exports), read from `/proc/self` at each scrape. Parsing is pure and tested on
//! captured text; a file that cannot be read leaves its metric out.

use std::fmt::Write;

/// USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`, 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// The process families in OpenMetrics text, ready to go before `# EOF`.
pub fn render() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(stat_fields);
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| boot_time(&s));
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_kib(&s, "VmRSS:"));
    let open_fds = std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count);
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| max_open_files(&s));
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, sample: &str, value: Option<f64>| {
        if let Some(value) = value {
            // Writing into a String cannot fail.
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{sample} {value}\n"
            );
        }
    };
    family(
        "process_cpu_seconds",
        "counter",
        "Total user and system CPU time spent in seconds.",
        "process_cpu_seconds_total",
        fields.map(|f| (f.utime + f.stime) as f64 / TICKS_PER_SECOND),
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        "process_resident_memory_bytes",
        rss.map(|kib| (kib * 1024) as f64),
    );
    family(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        "process_virtual_memory_bytes",
        fields.map(|f| f.vsize as f64),
    );
    family(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        "process_open_fds",
        open_fds.map(|n| n as f64),
    );
    family(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        "process_max_fds",
        max_fds.map(|n| n as f64),
    );
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        "process_start_time_seconds",
        fields
            .zip(boot_time)
            .map(|(f, boot)| boot as f64 + f.start_ticks as f64 / TICKS_PER_SECOND),
    );
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct StatFields {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    vsize: u64,
}

/// Fields 14, 15, 22 and 23 of `/proc/<pid>/stat`, counted after the command name
/// (which is in parentheses and may itself hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<StatFields> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(StatFields {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
    })
}

fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn status_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files  <soft>  <hard>  files": the soft limit is what binds.
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_files_as_the_kernel_writes_them() {
        let stat = "4242 (hook gate (x)) S 1 4242 4242 0 -1 4194560 2500 0 0 0 \
                    150 50 0 0 20 0 9 0 12345 987654321 2000 18446744073709551615";
        assert_eq!(
            stat_fields(stat),
            Some(StatFields {
                utime: 150,
                stime: 50,
                start_ticks: 12345,
                vsize: 987_654_321,
            })
        );
        assert_eq!(stat_fields("garbage"), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1765000000\nprocesses 9\n"),
            Some(1_765_000_000)
        );
        assert_eq!(
            status_kib("Name:\thookgate\nVmRSS:\t   81234 kB\n", "VmRSS:"),
            Some(81_234)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                1048576              files\n";
        assert_eq!(max_open_files(limits), Some(20_000));
    }

    #[test]
    fn this_process_has_cpu_memory_and_descriptors() {
        let text = render();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
