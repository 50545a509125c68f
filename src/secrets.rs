//! Secret lifecycle shared by sources (inbound) and, later, endpoints (outbound):
//! generate or accept a value, seal it, rotate with a grace period, expire (SPEC §5).

use crate::crypto::{Keyring, Secret};
use crate::id::new_id;
use crate::store::{Rotation, StoredSecret};
use crate::verify::VerifierKind;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Unexpired secrets, opened. One that cannot be opened (wrong master key, tampering)
/// is skipped and logged: it verifies nothing, and the others still work.
pub fn open_active(
    keyring: &Keyring,
    stored: &[StoredSecret],
    now: DateTime<Utc>,
) -> Vec<(String, Secret)> {
    stored
        .iter()
        .filter(|s| s.is_active(now))
        .filter_map(|s| match keyring.open(&s.sealed, s.id.as_bytes()) {
            Ok(secret) => Some((s.id.clone(), secret)),
            Err(error) => {
                tracing::error!(secret.id = %s.id, %error, "cannot open stored secret");
                None
            }
        })
        .collect()
}

/// Longest grace period a rotation may give the previous secret.
pub const MAX_GRACE: Duration = Duration::from_secs(30 * 86_400);
pub const DEFAULT_GRACE: Duration = Duration::from_secs(86_400);
const MAX_SECRET_BYTES: usize = 1024;

/// Why no secret was generated: the sender makes it (a public key), so the operator
/// must provide it.
pub const MUST_BE_PROVIDED: &str =
    "required for this verifier: it is the sender's public key, which only the sender can make";

/// A new secret in the form the verifier's senders expect (the scheme says which), or
/// [`MUST_BE_PROVIDED`] when only the sender can make it.
pub fn generate(kind: VerifierKind) -> Result<Secret, &'static str> {
    kind.new_secret(&mut rand::thread_rng())
        .map(Secret::new)
        .ok_or(MUST_BE_PROVIDED)
}

/// A sender-provided secret, checked for the verifier's format. The error never
/// repeats the value.
pub fn accept_provided(kind: VerifierKind, value: &str) -> Result<Secret, &'static str> {
    if value.is_empty() || value.len() > MAX_SECRET_BYTES {
        return Err("must be 1 to 1024 bytes");
    }
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err("must not contain surrounding whitespace or control characters");
    }
    kind.check_secret(value)?;
    Ok(Secret::new(value))
}

/// The secret sealed for storage, bound to its own id.
pub fn seal(
    keyring: &Keyring,
    owner_id: &str,
    secret: &Secret,
    now: DateTime<Utc>,
) -> StoredSecret {
    let id = new_id("sec");
    StoredSecret {
        sealed: keyring.seal(secret, id.as_bytes()),
        fingerprint: secret.fingerprint(),
        id,
        owner_id: owner_id.to_owned(),
        created_at: now,
        expires_at: None,
        last_used_at: None,
    }
}

/// A rotation to `secret`, with the previous ones valid until `now + grace`.
pub fn rotation(
    keyring: &Keyring,
    owner_id: &str,
    secret: &Secret,
    grace: Duration,
    now: DateTime<Utc>,
) -> Rotation {
    let grace = chrono::Duration::from_std(grace.min(MAX_GRACE)).unwrap_or_default();
    Rotation {
        new_secret: seal(keyring, owner_id, secret, now),
        previous_expire_at: now + grace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn generated_secrets_have_the_senders_format() {
        let whsec = generate(VerifierKind::StandardWebhooks).unwrap();
        let text = whsec.expose_str().unwrap();
        assert_eq!(
            STANDARD
                .decode(text.strip_prefix("whsec_").unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(generate(VerifierKind::Stripe)
            .unwrap()
            .expose_str()
            .unwrap()
            .starts_with("whsec_"));
        assert_eq!(generate(VerifierKind::Github).unwrap().expose().len(), 64);
        assert_ne!(
            generate(VerifierKind::Github).unwrap(),
            generate(VerifierKind::Github).unwrap()
        );
    }

    #[test]
    fn provided_secrets_are_checked_without_echoing_them() {
        assert!(accept_provided(VerifierKind::Github, "It's a Secret to Everybody").is_ok());
        assert!(accept_provided(VerifierKind::Github, "").is_err());
        assert!(accept_provided(VerifierKind::Github, " padded ").is_err());
        assert!(accept_provided(
            VerifierKind::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        )
        .is_ok());
        let error =
            accept_provided(VerifierKind::StandardWebhooks, "whsec_not-base64!").unwrap_err();
        assert!(!error.contains("not-base64"));
    }

    #[test]
    fn sealed_secret_opens_with_its_own_id_only() {
        let keyring = Keyring::new(MasterKey::from_bytes(&[7; 32]).unwrap(), vec![]);
        let stored = seal(&keyring, "src_1", &Secret::new("s3cret"), Utc::now());
        assert_eq!(
            keyring
                .open(&stored.sealed, stored.id.as_bytes())
                .unwrap()
                .expose(),
            b"s3cret"
        );
        assert!(keyring.open(&stored.sealed, b"sec_other").is_err());
        assert_eq!(stored.fingerprint, Secret::new("s3cret").fingerprint());
    }

    #[test]
    fn rotation_caps_grace_at_thirty_days() {
        let keyring = Keyring::new(MasterKey::from_bytes(&[7; 32]).unwrap(), vec![]);
        let now = Utc::now();
        let rotation = rotation(
            &keyring,
            "src_1",
            &Secret::new("new"),
            Duration::from_secs(10 * MAX_GRACE.as_secs()),
            now,
        );
        assert_eq!(
            rotation.previous_expire_at,
            now + chrono::Duration::days(30)
        );
    }
}
