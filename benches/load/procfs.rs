//! What the machine spent: a process's memory (`/proc/<pid>/status`) and the CPU time
//! of hookgate, PostgreSQL, RabbitMQ, this tool and everything else (`/proc/*/stat`,
//! `/proc/stat`), so a figure comes with where the two cores went while it was made.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the peak resident size since the process started.
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Clock ticks per second of `/proc` times (USER_HZ), asked of `getconf` once.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// (comm, utime + stime in ticks) of one process.
fn process_ticks(pid: &str) -> Option<(String, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    // After ") ": state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// Which group a process's CPU is counted in. PostgreSQL is shared with other work on
/// the machine (test suites), so only its server processes and the backends connected to
/// `database` count as "postgres"; backends of other databases count as "other".
/// RabbitMQ cannot be split that way: all of the broker counts.
fn group(pid: u32, hookgate: &[u32], comm: &str, database: Option<&str>) -> &'static str {
    if hookgate.contains(&pid) {
        "hookgate"
    } else if pid == std::process::id() {
        "load tool"
    } else if comm == "postgres" {
        // Backends' titles: "postgres: 15/main: <user> <database> <client>(<port>) <state>".
        let title = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&title);
        let ours = database.is_some_and(|d| title.split_whitespace().any(|w| w == d));
        let backend =
            title.contains("127.0.0.1(") || title.contains("::1(") || title.contains("[local]");
        if ours || !backend {
            "postgres"
        } else {
            "other"
        }
    } else if comm.starts_with("beam") || comm == "erl_child_setup" || comm == "epmd" {
        "rabbitmq"
    } else {
        "other"
    }
}

/// CPU ticks spent so far, by group, plus the machine's busy and total ticks.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    by_group: BTreeMap<&'static str, u64>,
    machine_busy: u64,
    machine_total: u64,
}

pub fn cpu_snapshot(hookgate: Option<u32>, database: Option<&str>) -> CpuSnapshot {
    cpu_snapshot_of(hookgate.as_slice(), database)
}

/// As [`cpu_snapshot`], with several hookgate processes counted as one group.
pub fn cpu_snapshot_of(hookgate: &[u32], database: Option<&str>) -> CpuSnapshot {
    let mut by_group = BTreeMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((comm, ticks)) = process_ticks(&pid.to_string()) {
                let g = group(pid, hookgate, &comm, database);
                if g != "other" {
                    *by_group.entry(g).or_insert(0) += ticks;
                }
            }
        }
    }
    let (machine_busy, machine_total) = machine_ticks().unwrap_or((0, 0));
    CpuSnapshot {
        by_group,
        machine_busy,
        machine_total,
    }
}

/// (busy, total) ticks of all CPUs from the first line of `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

/// Average cores used by each group between two snapshots: `hookgate 0.93, …`.
/// "other" is the machine's busy time not accounted to a named group (other builds,
/// the kernel's own work); a process that exited in between is lost from its group.
pub fn cpu_line(before: &CpuSnapshot, after: &CpuSnapshot, wall: Duration, ticks: u64) -> String {
    let cores = |t: u64| t as f64 / ticks as f64 / wall.as_secs_f64().max(1e-9);
    let mut named = 0;
    let mut parts = Vec::new();
    for name in ["hookgate", "postgres", "rabbitmq", "load tool"] {
        let spent = after
            .by_group
            .get(name)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.by_group.get(name).copied().unwrap_or(0));
        named += spent;
        parts.push(format!("{name} {:.2}", cores(spent)));
    }
    // /proc/stat counts all CPUs in the same USER_HZ ticks.
    let busy = after.machine_busy.saturating_sub(before.machine_busy);
    let total = after.machine_total.saturating_sub(before.machine_total);
    parts.push(format!("other {:.2}", cores(busy.saturating_sub(named))));
    parts.push(format!("idle {:.2}", cores(total.saturating_sub(busy))));
    parts.join(", ")
}

/// CPU time per unit of work (e.g. per 2xx answer) of each named group between two
/// snapshots, in µs: `hookgate 61 µs, postgres 48 µs, rabbitmq 52 µs`, the process under
/// test named `target`. The figure that turns into a capacity model (cores per 1,000
/// webhooks/s = µs per webhook / 1,000).
pub fn cpu_per_unit(
    before: &CpuSnapshot,
    after: &CpuSnapshot,
    units: u64,
    ticks: u64,
    target: &str,
) -> String {
    let micros = |name: &str| {
        let spent = after
            .by_group
            .get(name)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.by_group.get(name).copied().unwrap_or(0));
        spent as f64 * 1e6 / ticks.max(1) as f64 / units.max(1) as f64
    };
    ["hookgate", "postgres", "rabbitmq"]
        .iter()
        .map(|name| {
            let label = if *name == "hookgate" { target } else { name };
            format!("{label} {:.0} µs", micros(name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_memory_and_cpu() {
        let me = memory(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib);
        let (comm, _) = process_ticks(&std::process::id().to_string()).unwrap();
        assert!(!comm.is_empty());
        let snapshot = cpu_snapshot(None, None);
        assert!(snapshot.machine_total > 0);
    }

    #[test]
    fn groups_are_named_by_command() {
        assert_eq!(group(1, &[1], "hookgate", None), "hookgate");
        assert_eq!(group(2, &[1, 2], "hookgate", None), "hookgate");
        assert_eq!(group(3, &[], "beam.smp", None), "rabbitmq");
        assert_eq!(group(4, &[], "cargo", None), "other");
    }
}
