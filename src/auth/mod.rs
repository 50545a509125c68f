//! Who is calling and what they may do. Pure: the HTTP layer resolves a bearer token
//! into a [`Principal`] (operator token compare or API-key lookup) and then asks it.

/// What an API key may do: a stored value (the store keeps it with the key), checked here.
pub use crate::store::Scope;

use crate::store::{ApiKey, OrgSlug};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Holder of HOOKGATE_OPERATOR_TOKEN: every org, every action, including minting keys.
    Operator,
    /// An org's API key, limited to its org and scopes.
    ApiKey(ApiKey),
}

/// Why a principal may not do something. The HTTP edge maps these to 404 / 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Another org's resource: answered exactly like a missing one.
    #[error("not found")]
    OtherOrg,
    #[error("this action needs the operator token")]
    OperatorRequired,
    #[error("the API key lacks scope {0}")]
    ScopeMissing(Scope),
}

impl Principal {
    /// Actor name for the audit log (never the token itself).
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator => "operator".to_owned(),
            Principal::ApiKey(key) => format!("api_key:{}", key.id),
        }
    }

    /// May act on `org` at all (any scope)?
    pub fn member_of(&self, org: &OrgSlug) -> Result<(), Denied> {
        match self {
            Principal::Operator => Ok(()),
            Principal::ApiKey(key) if &key.org == org => Ok(()),
            Principal::ApiKey(_) => Err(Denied::OtherOrg),
        }
    }

    /// May act on `org` with `scope`? Org is checked first so a foreign org is a 404.
    pub fn allows(&self, org: &OrgSlug, scope: Scope) -> Result<(), Denied> {
        self.member_of(org)?;
        match self {
            Principal::Operator => Ok(()),
            Principal::ApiKey(key) if key.scopes.is_empty() || key.scopes.contains(&scope) => {
                Ok(())
            }
            Principal::ApiKey(_) => Err(Denied::ScopeMissing(scope)),
        }
    }

    /// Operator-only actions on `org` (minting and listing keys).
    pub fn operator_for(&self, org: &OrgSlug) -> Result<(), Denied> {
        self.member_of(org)?;
        match self {
            Principal::Operator => Ok(()),
            Principal::ApiKey(_) => Err(Denied::OperatorRequired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(org: &str, scopes: &[Scope]) -> Principal {
        Principal::ApiKey(ApiKey {
            id: "key_1".into(),
            org: OrgSlug::parse(org).unwrap(),
            name: "ci".into(),
            scopes: scopes.to_vec(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        })
    }

    fn org(slug: &str) -> OrgSlug {
        OrgSlug::parse(slug).unwrap()
    }

    #[test]
    fn key_with_scope_is_allowed_in_its_own_org_only() {
        let principal = key("acme", &[Scope::AuditRead]);
        assert_eq!(principal.allows(&org("acme"), Scope::AuditRead), Ok(()));
        assert_eq!(
            principal.allows(&org("other"), Scope::AuditRead),
            Err(Denied::OtherOrg)
        );
    }

    #[test]
    fn key_lacking_scope_is_denied_that_scope() {
        let principal = key("acme", &[Scope::AuditRead]);
        assert_eq!(
            principal.allows(&org("acme"), Scope::SourceWrite),
            Err(Denied::ScopeMissing(Scope::SourceWrite))
        );
    }

    #[test]
    fn key_with_empty_scopes_has_every_scope() {
        let principal = key("acme", &[]);
        for scope in Scope::ALL {
            assert_eq!(principal.allows(&org("acme"), scope), Ok(()));
        }
    }

    #[test]
    fn no_api_key_can_act_as_operator() {
        assert_eq!(
            key("acme", &[]).operator_for(&org("acme")),
            Err(Denied::OperatorRequired)
        );
        assert_eq!(
            key("acme", &[]).operator_for(&org("other")),
            Err(Denied::OtherOrg)
        );
        assert_eq!(Principal::Operator.operator_for(&org("acme")), Ok(()));
    }
}
