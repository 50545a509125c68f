//! Secrets at rest: AES-256-GCM under the master key.
//!
//! Sealed form: `hgs1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The key id (first
//! 8 hex of SHA-256 of the key) lets a later master-key rotation keep old keys for
//! opening while sealing with the new one. The caller's context (e.g. the owning
//! record id) is bound as associated data so a ciphertext cannot be moved to
//! another record.

use super::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const FORMAT: &str = "hgs1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("master key must be 32 bytes of base64, got {0} bytes")]
    BadKeyLength(usize),
    #[error("master key is not valid base64")]
    BadKeyEncoding,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value uses master key {0}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Unauthentic,
}

/// A master key: 32 bytes, identified by its fingerprint.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl MasterKey {
    pub fn from_base64(encoded: &str) -> Result<Self, KeyringError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| KeyringError::BadKeyEncoding)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyringError> {
        if bytes.len() != 32 {
            return Err(KeyringError::BadKeyLength(bytes.len()));
        }
        Ok(Self {
            id: hex::encode(&Sha256::digest(bytes)[..4]),
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        })
    }

    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// The current master key (seals) plus retired ones (open only).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    retired: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, retired: Vec<MasterKey>) -> Self {
        Self { current, retired }
    }

    pub fn seal(&self, secret: &Secret, context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.expose(),
            aad: context,
        };
        // Encryption with a valid key and in-memory buffers cannot fail; an empty
        // ciphertext would simply fail authentication on open.
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{FORMAT}.{}.{}", self.current.id, STANDARD.encode(blob))
    }

    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Secret, KeyringError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(FORMAT), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyringError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id == key_id)
            .ok_or_else(|| KeyringError::UnknownKey(key_id.to_owned()))?;
        let blob = STANDARD.decode(data).map_err(|_| KeyringError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(KeyringError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        key.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Secret::new)
            .map_err(|_| KeyringError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn sealed_secret_opens_to_the_same_value() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = ring.seal(&Secret::new("whsec_abc"), b"src_1");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(ring.open(&sealed, b"src_1").unwrap().expose(), b"whsec_abc");
    }

    #[test]
    fn sealed_secret_moved_to_another_record_fails_authentication() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = ring.seal(&Secret::new("s"), b"src_1");
        assert_eq!(ring.open(&sealed, b"src_2"), Err(KeyringError::Unauthentic));
    }

    #[test]
    fn retired_master_key_still_opens_after_rotation() {
        let old = Keyring::new(key(1), vec![]);
        let sealed = old.seal(&Secret::new("s"), b"ctx");
        let rotated = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(rotated.open(&sealed, b"ctx").unwrap().expose(), b"s");
        let forgotten = Keyring::new(key(2), vec![]);
        assert!(matches!(
            forgotten.open(&sealed, b"ctx"),
            Err(KeyringError::UnknownKey(_))
        ));
    }

    #[test]
    fn tampered_or_garbled_values_are_refused() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = ring.seal(&Secret::new("s"), b"ctx");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(&tampered, b"ctx").is_err());
        for junk in ["", "hgs1", "hgs1.x", "hgs2.a.b", "hgs1.00000000.!!!"] {
            assert!(ring.open(junk, b"ctx").is_err(), "{junk}");
        }
    }

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert_eq!(
            MasterKey::from_base64("AAAA").unwrap_err(),
            KeyringError::BadKeyLength(3)
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            KeyringError::BadKeyEncoding
        );
        assert!(MasterKey::from_base64(&MasterKey::generate_base64()).is_ok());
    }
}
