//! Master-key rotation's records (SPEC §15): how many secrets each key id seals, the
//! secrets `hookgate rekey` reads, and a batch of re-seals with its audit entries.

use super::core::{AuditAction, AuditEntry, OrgSlug};
use crate::crypto::sealed_key_id;
use std::collections::BTreeMap;

/// How many secrets (expired ones included) are sealed under one master key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCount {
    /// `None` for values not in the sealed form (`hgs1.<key id>.…`): tampering.
    pub key_id: Option<String>,
    pub secrets: u64,
}

/// A secret as the re-keying reads it: its sealed value and its owner's org (`None`
/// when the source or endpoint that owns it is not found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub id: String,
    pub org: Option<OrgSlug>,
    pub sealed: String,
}

/// One secret re-sealed: `new` is written only while the stored value is still `old`,
/// so a value another run (or another key) sealed meanwhile is never overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseal {
    pub id: String,
    pub org: Option<OrgSlug>,
    pub old: String,
    pub new: String,
}

/// Re-seals committed in one transaction, with one `master_key.rekeyed` audit entry
/// per org for the secrets actually written.
#[derive(Debug, Clone)]
pub struct ResealBatch {
    pub items: Vec<Reseal>,
    pub actor: String,
    /// The id of the key every item is now sealed under.
    pub to_key_id: String,
}

impl ResealBatch {
    /// The audit entries for the items whose ids are in `written`: one per org, with
    /// how many of its secrets left each old key id. Items without an org are
    /// re-sealed but have no org log to be written to.
    pub fn audit_entries(&self, written: &[String]) -> Vec<AuditEntry> {
        let mut by_org: BTreeMap<&str, (&OrgSlug, BTreeMap<&str, u64>)> = BTreeMap::new();
        for item in self.items.iter().filter(|i| written.contains(&i.id)) {
            if let Some(org) = &item.org {
                let from = sealed_key_id(&item.old).unwrap_or("malformed");
                let (_, counts) = by_org
                    .entry(org.as_str())
                    .or_insert_with(|| (org, BTreeMap::new()));
                *counts.entry(from).or_default() += 1;
            }
        }
        by_org
            .into_values()
            .map(|(org, counts)| {
                AuditEntry::new(
                    org,
                    self.actor.clone(),
                    AuditAction::MasterKeyRekeyed,
                    &self.to_key_id,
                    serde_json::json!({ "counts": counts, "to_key_id": self.to_key_id }),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, org: Option<&str>, from: &str) -> Reseal {
        Reseal {
            id: id.into(),
            org: org.map(|o| OrgSlug::parse(o).unwrap()),
            old: format!("hgs1.{from}.AAAA"),
            new: "hgs1.cccccccc.BBBB".into(),
        }
    }

    #[test]
    fn one_audit_entry_per_org_counts_the_written_secrets_by_old_key() {
        let batch = ResealBatch {
            items: vec![
                item("sec_1", Some("acme"), "aaaaaaaa"),
                item("sec_2", Some("acme"), "aaaaaaaa"),
                item("sec_3", Some("acme"), "bbbbbbbb"),
                item("sec_4", Some("initech"), "aaaaaaaa"),
                item("sec_5", Some("initech"), "aaaaaaaa"),
                item("sec_6", None, "aaaaaaaa"),
            ],
            actor: "operator".into(),
            to_key_id: "cccccccc".into(),
        };
        let written: Vec<String> = ["sec_1", "sec_2", "sec_3", "sec_4", "sec_6"]
            .map(String::from)
            .to_vec();
        let entries = batch.audit_entries(&written);
        let got: Vec<(&str, &str, &str, serde_json::Value)> = entries
            .iter()
            .map(|e| {
                (
                    e.org.as_str(),
                    e.action.as_str(),
                    e.target.as_str(),
                    e.details.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "acme",
                    "master_key.rekeyed",
                    "cccccccc",
                    serde_json::json!({"counts": {"aaaaaaaa": 2, "bbbbbbbb": 1}, "to_key_id": "cccccccc"})
                ),
                (
                    "initech",
                    "master_key.rekeyed",
                    "cccccccc",
                    serde_json::json!({"counts": {"aaaaaaaa": 1}, "to_key_id": "cccccccc"})
                ),
            ]
        );
        assert!(batch.audit_entries(&[]).is_empty());
    }
}
