//! The store seam: everything hookgate keeps durably, as domain operations.
//!
//! Two backends implement [`Store`]: PostgreSQL for production (many instances) and an
//! embedded SQLite file for single-node use. Both pass the same conformance suite
//! (`tests/it/store_conformance.rs`). Each operation that changes state and must be
//! audited takes its [`AuditEntry`] and writes it in the same transaction.

mod embedded;
mod model;
mod postgres;

pub use embedded::EmbeddedStore;
pub use model::{ApiKey, AuditAction, AuditEntry, Org, OrgSlug, Page, PageRequest};
pub use postgres::{migrate as migrate_postgres, PostgresStore};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or failed; callers answer 503 and retry later.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// A uniqueness rule was violated; the payload names what conflicted.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row could not be decoded: a bug or manual tampering, never user input.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn create_org(&self, org: &Org, audit: &AuditEntry) -> Result<(), StoreError>;
    async fn find_org(&self, slug: &OrgSlug) -> Result<Option<Org>, StoreError>;

    async fn insert_api_key(
        &self,
        key: &ApiKey,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The key whose token hashes to `token_hash`, revoked or not.
    async fn find_api_key_by_hash(&self, token_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError>;
    /// Marks the key revoked at `at`; false when it was already revoked or is unknown.
    async fn revoke_api_key(
        &self,
        id: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    async fn list_audit(
        &self,
        org: &OrgSlug,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}

/// Parses stored scope names; an unknown name means the row is corrupt.
fn parse_scopes(names: &[String]) -> Result<Vec<crate::auth::Scope>, StoreError> {
    names
        .iter()
        .map(|name| name.parse().map_err(StoreError::Corrupt))
        .collect()
}

fn parse_slug(value: &str) -> Result<OrgSlug, StoreError> {
    OrgSlug::parse(value).map_err(|e| StoreError::Corrupt(format!("org slug {value:?}: {e}")))
}
