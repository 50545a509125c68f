//! Secret operations shared by every resource that owns secrets (sources, endpoints):
//! views, rotation with grace, expiry. Each writes its audit entry with the change.

use super::error::ApiError;
use super::AppState;
use crate::auth::Principal;
use crate::secrets;
use crate::store::{AuditAction, AuditEntry, OrgSlug, StoredSecret};
use crate::verify::VerifierKind;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Secret metadata: never the value.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretView {
    id: String,
    /// First 8 hex digits of the value's SHA-256.
    fingerprint: String,
    #[serde(serialize_with = "super::timestamp::micros")]
    created_at: DateTime<Utc>,
    /// Null for the current secret.
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    expires_at: Option<DateTime<Utc>>,
    /// Last time a request verified with this secret (to the nearest ~10 s): when
    /// senders have switched, the old secret can go.
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
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
    /// The sender's own new secret; generated when absent (required where it is the
    /// sender's public key: discord, sendgrid; or the SNS topic ARN: aws_sns).
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
    #[serde(serialize_with = "super::timestamp::micros_or_null")]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    /// The new secret: shown this once.
    pub(super) secret: String,
    pub(super) secret_id: String,
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

/// The resource that owns the secrets: its org and id, and the secret format.
pub struct Owner<'a> {
    pub org: &'a OrgSlug,
    pub id: &'a str,
    pub kind: VerifierKind,
}

pub async fn list(state: &AppState, owner: &Owner<'_>) -> Result<SecretList, ApiError> {
    let secrets = state.store().list_secrets(owner.id).await?;
    Ok(SecretList::new(secrets, Utc::now()))
}

/// A new current secret (given or generated); the previous ones keep working until
/// now + grace.
pub async fn rotate(
    state: &AppState,
    principal: &Principal,
    owner: &Owner<'_>,
    body: &RotateSecret,
) -> Result<RotatedSecret, ApiError> {
    let grace = body.grace()?;
    let secret = match body.secret.as_deref() {
        Some(value) => secrets::accept_provided(owner.kind, value)
            .map_err(|reason| ApiError::validation("secret", reason))?,
        None => secrets::generate(owner.kind)
            .map_err(|reason| ApiError::validation("secret", reason))?,
    };
    let rotation = secrets::rotation(state.keyring(), owner.id, &secret, grace, Utc::now());
    let entry = AuditEntry::new(
        owner.org,
        principal.actor(),
        AuditAction::SecretRotated,
        owner.id,
        serde_json::json!({
            "secret_id": rotation.new_secret.id,
            "fingerprint": rotation.new_secret.fingerprint,
            "grace_period_s": grace.as_secs(),
        }),
    );
    let previous = state.store().rotate_secret(&rotation, &entry).await?;
    state.ingress().invalidate(owner.id);
    Ok(RotatedSecret::new(
        secret.expose_str().unwrap_or_default().to_owned(),
        rotation.new_secret.id,
        previous,
    ))
}

/// Expires one secret now (compromise).
pub async fn expire(
    state: &AppState,
    principal: &Principal,
    owner: &Owner<'_>,
    secret_id: &str,
) -> Result<StatusCode, ApiError> {
    let entry = AuditEntry::new(
        owner.org,
        principal.actor(),
        AuditAction::SecretExpired,
        owner.id,
        serde_json::json!({ "secret_id": secret_id }),
    );
    if !state
        .store()
        .expire_secret(owner.id, secret_id, Utc::now(), &entry)
        .await?
    {
        return Err(ApiError::not_found());
    }
    state.ingress().invalidate(owner.id);
    Ok(StatusCode::NO_CONTENT)
}
