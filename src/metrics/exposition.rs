//! The two text formats `/metrics` answers in (SPEC §16), chosen by the `Accept`
//! header: OpenMetrics for scrapers that ask for it, else the Prometheus text format
//! 0.0.4 that `promtool check metrics` and the classic parsers read.
//!
//! The registry renders OpenMetrics; the classic format is derived from it, line by
//! line. The difference that matters: an OpenMetrics counter family `x` has samples
//! `x_total`, while the classic format names the family by its sample (`# HELP x_total`,
//! `# TYPE x_total counter`) — a classic parser reading OpenMetrics finds counters with
//! no help text and groups their samples under no family. `# UNIT` and `# EOF` have no
//! classic counterpart; an `info` family is a gauge there.

use std::collections::HashSet;

pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether the scraper asked for OpenMetrics (Prometheus does, with a preference list
/// that also names the classic format; its first choice wins).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let first_openmetrics = accept.find("application/openmetrics-text");
    let first_text = accept.find("text/plain");
    match (first_openmetrics, first_text) {
        (Some(om), Some(text)) => om < text,
        (Some(_), None) => true,
        _ => false,
    }
}

/// OpenMetrics text as the Prometheus text format 0.0.4.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut counters: HashSet<&str> = HashSet::new();
    let mut infos: HashSet<&str> = HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            match rest.split_once(' ') {
                Some((family, "counter")) => {
                    counters.insert(family);
                }
                Some((family, "info")) => {
                    infos.insert(family);
                }
                _ => {}
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (family, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(family) {
                Some(format!("{prefix}{family}_total {tail}"))
            } else if infos.contains(family) {
                let tail = if *prefix == "# TYPE " { "gauge" } else { tail };
                Some(format!("{prefix}{family}_info {tail}"))
            } else {
                None
            }
        });
        match rewritten {
            Some(line) => out.push_str(line.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scraper_chooses_the_format_by_its_first_preference() {
        let prometheus_default = "application/openmetrics-text;version=1.0.0,\
            application/openmetrics-text;version=0.0.1;q=0.75,\
            text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let cases = [
            (None, false),
            (Some("*/*"), false),
            (Some("text/plain; version=0.0.4"), false),
            (Some("application/openmetrics-text; version=1.0.0"), true),
            (Some(prometheus_default), true),
            (
                Some("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"),
                false,
            ),
        ];
        for (accept, openmetrics) in cases {
            assert_eq!(wants_openmetrics(accept), openmetrics, "{accept:?}");
        }
    }

    #[test]
    fn counters_are_named_by_their_samples_and_openmetrics_only_lines_dropped() {
        let openmetrics = "\
# HELP hookgate_deliveries Delivery attempts by outcome.
# TYPE hookgate_deliveries counter
hookgate_deliveries_total{outcome=\"delivered\"} 3
# HELP hookgate_outbox_backlog Runs waiting.
# TYPE hookgate_outbox_backlog gauge
hookgate_outbox_backlog 0
# HELP hookgate_build Build of this binary.
# TYPE hookgate_build info
hookgate_build_info{version=\"0.1.0\"} 1
# HELP hookgate_delivery_duration_seconds Attempt duration.
# TYPE hookgate_delivery_duration_seconds histogram
# UNIT hookgate_delivery_duration_seconds seconds
hookgate_delivery_duration_seconds_sum 0.5
# EOF
";
        let expected = "\
# HELP hookgate_deliveries_total Delivery attempts by outcome.
# TYPE hookgate_deliveries_total counter
hookgate_deliveries_total{outcome=\"delivered\"} 3
# HELP hookgate_outbox_backlog Runs waiting.
# TYPE hookgate_outbox_backlog gauge
hookgate_outbox_backlog 0
# HELP hookgate_build_info Build of this binary.
# TYPE hookgate_build_info gauge
hookgate_build_info{version=\"0.1.0\"} 1
# HELP hookgate_delivery_duration_seconds Attempt duration.
# TYPE hookgate_delivery_duration_seconds histogram
hookgate_delivery_duration_seconds_sum 0.5
";
        assert_eq!(to_prometheus_text(openmetrics), expected);
    }
}
