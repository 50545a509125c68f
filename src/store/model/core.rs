//! Orgs, API keys, the audit log and pagination.

use super::Scope;
use crate::id::new_id;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An org's slug: `[a-z0-9][a-z0-9-]{1,62}`, the org's id in every URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let valid_len = (2..=63).contains(&value.len());
        let valid_chars = value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let starts_alnum = value.bytes().next().is_some_and(|b| b != b'-');
        if valid_len && valid_chars && starts_alnum {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be 2-63 characters of a-z, 0-9 and '-', not starting with '-'")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub slug: OrgSlug,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key's metadata. The key itself exists only in the mint response; the store
/// keeps its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub org: OrgSlug,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What an audit entry records. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    OrgCreated,
    ApiKeyMinted,
    ApiKeyRevoked,
    SourceCreated,
    SourceUpdated,
    SourceDeleted,
    SecretRotated,
    SecretExpired,
    EndpointCreated,
    EndpointUpdated,
    EndpointDeleted,
    EndpointDisabled,
    IngressEventReplayed,
    MasterKeyRekeyed,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrgCreated => "org_created",
            AuditAction::ApiKeyMinted => "api_key_minted",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::SourceCreated => "source_created",
            AuditAction::SourceUpdated => "source_updated",
            AuditAction::SourceDeleted => "source_deleted",
            AuditAction::SecretRotated => "secret_rotated",
            AuditAction::SecretExpired => "secret_expired",
            AuditAction::EndpointCreated => "endpoint_created",
            AuditAction::EndpointUpdated => "endpoint_updated",
            AuditAction::EndpointDeleted => "endpoint_deleted",
            AuditAction::EndpointDisabled => "endpoint_disabled",
            // Named as SPEC §11 names it.
            AuditAction::IngressEventReplayed => "ingress_event.replayed",
            // Named as SPEC §15 names it.
            AuditAction::MasterKeyRekeyed => "master_key.rekeyed",
        }
    }
}

/// One line of an org's audit log: who did what to which resource, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub org: OrgSlug,
    pub actor: String,
    /// The action's snake_case name (kept as text so old entries survive new enums).
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl AuditEntry {
    pub fn new(
        org: &OrgSlug,
        actor: String,
        action: AuditAction,
        target: &str,
        details: serde_json::Value,
    ) -> Self {
        Self {
            id: new_id("aud"),
            org: org.clone(),
            actor,
            action: action.as_str().to_owned(),
            target: target.to_owned(),
            details,
            at: Utc::now(),
        }
    }
}

/// A page request: newest first, items strictly older than `before` (an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub before: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 50;
    pub const MAX_LIMIT: usize = 200;

    pub fn first(limit: usize) -> Self {
        Self {
            limit,
            before: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Id to pass as `before` for the next page; `None` on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only signals "more".
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> &str) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|item| id_of(item).to_owned())
        } else {
            None
        };
        Self { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_slug_accepts_lowercase_words_and_rejects_the_rest() {
        for ok in ["acme", "a1", "acme-prod", "0rg"] {
            assert!(OrgSlug::parse(ok).is_ok(), "{ok}");
        }
        let too_long = "a".repeat(64);
        for bad in [
            "",
            "a",
            "-acme",
            "Acme",
            "ac me",
            "acme_",
            "ümlaut",
            too_long.as_str(),
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_from_overfetch_signals_more_only_when_rows_exceed_limit() {
        let page = Page::from_overfetch(vec!["c", "b", "a"], 2, |s| s);
        assert_eq!(page.items, vec!["c", "b"]);
        assert_eq!(page.next.as_deref(), Some("b"));
        let last = Page::from_overfetch(vec!["b", "a"], 2, |s| s);
        assert_eq!(last.next, None);
    }
}
