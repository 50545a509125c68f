use chrono::{DateTime, Utc};

/// One secret of a source (or, later, an endpoint). The value is sealed under the
/// master key; only the fingerprint is readable without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub id: String,
    /// The source or endpoint that owns the secret.
    pub owner_id: String,
    pub sealed: String,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// `None` for the current secret; set by rotation (grace) or expiry (now).
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl StoredSecret {
    /// Whether the secret still verifies (inbound) or signs (outbound) at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A rotation: the new current secret, and the moment the previous ones stop working
/// (they keep an earlier expiry if they already had one).
#[derive(Debug, Clone)]
pub struct Rotation {
    pub new_secret: StoredSecret,
    pub previous_expire_at: DateTime<Utc>,
}
