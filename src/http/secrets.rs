//! Views and request bodies for secrets, shared by every resource that owns secrets.

use super::error::ApiError;
use crate::store::StoredSecret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Secret metadata: never the value.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretView {
    id: String,
    /// First 8 hex digits of the value's SHA-256.
    fingerprint: String,
    created_at: DateTime<Utc>,
    /// Null for the current secret.
    expires_at: Option<DateTime<Utc>>,
    /// Last time a request verified with this secret (to the nearest ~10 s): when
    /// senders have switched, the old secret can go.
    last_used_at: Option<DateTime<Utc>>,
    active: bool,
}

impl SecretView {
    pub fn new(secret: StoredSecret, now: DateTime<Utc>) -> Self {
        Self {
            active: secret.is_active(now),
            id: secret.id,
            fingerprint: secret.fingerprint,
            created_at: secret.created_at,
            expires_at: secret.expires_at,
            last_used_at: secret.last_used_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretList {
    data: Vec<SecretView>,
}

impl SecretList {
    pub fn new(secrets: Vec<StoredSecret>, now: DateTime<Utc>) -> Self {
        Self {
            data: secrets
                .into_iter()
                .map(|s| SecretView::new(s, now))
                .collect(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secrets keep working (default 86400, at most 30 days).
    pub grace_period_s: Option<u64>,
    /// The sender's own new secret; generated when absent.
    pub secret: Option<String>,
}

impl RotateSecret {
    pub fn grace(&self) -> Result<Duration, ApiError> {
        let grace = self
            .grace_period_s
            .map_or(crate::secrets::DEFAULT_GRACE, Duration::from_secs);
        if grace > crate::secrets::MAX_GRACE {
            return Err(ApiError::validation(
                "grace_period_s",
                "must be at most 2592000 (30 days)",
            ));
        }
        Ok(grace)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PreviousSecret {
    id: String,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    /// The new secret: shown this once.
    secret: String,
    secret_id: String,
    previous: Vec<PreviousSecret>,
}

impl RotatedSecret {
    pub fn new(secret: String, secret_id: String, previous: Vec<StoredSecret>) -> Self {
        Self {
            secret,
            secret_id,
            previous: previous
                .into_iter()
                .map(|s| PreviousSecret {
                    id: s.id,
                    expires_at: s.expires_at,
                })
                .collect(),
        }
    }
}
