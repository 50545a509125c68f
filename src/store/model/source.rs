use super::OrgSlug;
use crate::verify::VerifierConfig;
use chrono::{DateTime, Utc};

/// An inbound URL bound to one workflow (SPEC §3.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub org: OrgSlug,
    pub name: String,
    pub workflow_id: String,
    pub verifier: VerifierConfig,
    pub enabled: bool,
    /// Event names that create runs; empty means all.
    pub event_filter: Vec<String>,
    pub max_body_bytes: u64,
    /// The source counts as quiet once no event arrived for this long (SPEC §11).
    pub quiet_after_s: Option<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Source {
    /// Quiet: enabled, with a `quiet_after_s`, and nothing arrived for that long
    /// (counted from its creation when nothing ever did).
    pub fn is_quiet(&self, last_event_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.enabled
            && self.quiet_after_s.is_some_and(|after| {
                let since = last_event_at.unwrap_or(self.created_at);
                now - since > chrono::Duration::seconds(i64::from(after))
            })
    }

    /// Whether an event with this name (if the sender gave one) should create a run.
    pub fn admits(&self, event_name: Option<&str>) -> bool {
        self.event_filter.is_empty()
            || event_name.is_some_and(|name| self.event_filter.iter().any(|f| f == name))
    }
}

/// The fields PATCH may change; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourcePatch {
    pub name: Option<String>,
    pub workflow_id: Option<String>,
    pub enabled: Option<bool>,
    pub event_filter: Option<Vec<String>>,
    pub max_body_bytes: Option<u64>,
    /// `Some(None)` clears it.
    pub quiet_after_s: Option<Option<u32>>,
}

impl SourcePatch {
    pub fn apply(&self, source: &mut Source, now: DateTime<Utc>) {
        if let Some(name) = &self.name {
            source.name.clone_from(name);
        }
        if let Some(workflow_id) = &self.workflow_id {
            source.workflow_id.clone_from(workflow_id);
        }
        if let Some(enabled) = self.enabled {
            source.enabled = enabled;
        }
        if let Some(filter) = &self.event_filter {
            source.event_filter.clone_from(filter);
        }
        if let Some(limit) = self.max_body_bytes {
            source.max_body_bytes = limit;
        }
        if let Some(quiet_after_s) = self.quiet_after_s {
            source.quiet_after_s = quiet_after_s;
        }
        source.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(filter: &[&str]) -> Source {
        Source {
            id: "src_1".into(),
            org: OrgSlug::parse("acme").unwrap(),
            name: "gh".into(),
            workflow_id: "wf".into(),
            verifier: VerifierConfig::Github,
            enabled: true,
            event_filter: filter.iter().map(|s| s.to_string()).collect(),
            max_body_bytes: 1024,
            quiet_after_s: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn empty_filter_admits_every_event_even_unnamed() {
        assert!(source(&[]).admits(Some("push")));
        assert!(source(&[]).admits(None));
    }

    #[test]
    fn filter_admits_only_listed_names() {
        let filtered = source(&["push", "pull_request"]);
        assert!(filtered.admits(Some("push")));
        assert!(!filtered.admits(Some("issues")));
        assert!(!filtered.admits(None));
    }
}
