//! A console sign-in (SPEC §13): a server-side record behind a cookie, so any instance
//! honours it and sign-out ends it everywhere.

use chrono::{DateTime, Duration, Utc};

/// Idle time after which a session no longer signs anyone in (SPEC §13).
pub const CONSOLE_SESSION_IDLE: Duration = Duration::hours(12);

/// Who a console session acts as. The API key is re-read on every request, so revoking
/// the key ends its sessions; an operator session names the operator token it was
/// opened with (by fingerprint), so a new token ends the old sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionHolder {
    /// The operator, with the fingerprint of the token used to sign in.
    Operator {
        token_fingerprint: String,
    },
    ApiKey {
        key_id: String,
    },
}

impl SessionHolder {
    /// The stored form: `operator:<fingerprint>` or `api_key:<id>`.
    pub fn to_stored(&self) -> String {
        match self {
            SessionHolder::Operator { token_fingerprint } => {
                format!("operator:{token_fingerprint}")
            }
            SessionHolder::ApiKey { key_id } => format!("api_key:{key_id}"),
        }
    }

    pub fn from_stored(stored: &str) -> Option<Self> {
        match stored.split_once(':')? {
            ("operator", fingerprint) => Some(SessionHolder::Operator {
                token_fingerprint: fingerprint.to_owned(),
            }),
            ("api_key", id) => Some(SessionHolder::ApiKey {
                key_id: id.to_owned(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// SHA-256 of the cookie's value (hex): the store never holds the cookie itself.
    pub token_hash: String,
    pub holder: SessionHolder,
    /// Every state-changing form carries it; compared in constant time.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_through_their_stored_form() {
        for holder in [
            SessionHolder::Operator {
                token_fingerprint: "ab12".into(),
            },
            SessionHolder::ApiKey {
                key_id: "key_1".into(),
            },
        ] {
            assert_eq!(
                SessionHolder::from_stored(&holder.to_stored()),
                Some(holder)
            );
        }
        assert_eq!(SessionHolder::from_stored("root:x"), None);
        assert_eq!(SessionHolder::from_stored("operator"), None);
    }
}
