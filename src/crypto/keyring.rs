//! Secrets at rest: AES-256-GCM under the master key.
//!
//! Sealed form: `hgs1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The key id (first
//! 8 hex of SHA-256 of the key) lets a later master-key rotation keep old keys for
//! opening while sealing with the new one. The caller's context (e.g. the owning
//! record id) is bound as associated data so a ciphertext cannot be moved to
//! another record.
//!
//! A keyring has one current key, the only one that seals, and any number of retired
//! ones that only open (SPEC §15): after a rotation, values sealed under the old key
//! keep opening until `hookgate rekey` has re-sealed them under the new one.

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

/// A list of master keys, as HOOKGATE_MASTER_KEYS_RETIRED or the data dir's
/// `master-keys-retired` file spell it: base64 keys separated by commas, spaces or
/// line breaks. An error names the key by its position, never by its value.
pub fn parse_key_list(text: &str) -> Result<Vec<Secret>, String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|key| !key.is_empty())
        .enumerate()
        .map(|(i, key)| {
            MasterKey::from_base64(key)
                .map(|_| Secret::new(key))
                .map_err(|e| format!("key {}: {e}", i + 1))
        })
        .collect()
}

/// The key id a sealed value names (`hgs1.<key id>.…`), if it has the sealed form.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(FORMAT), Some(key_id), Some(_)) => Some(key_id),
        _ => None,
    }
}

/// The current master key (seals) plus retired ones (open only).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    retired: Vec<MasterKey>,
}

impl Keyring {
    /// A retired key equal to the current one, or listed twice, is kept once.
    pub fn new(current: MasterKey, retired: Vec<MasterKey>) -> Self {
        let mut kept: Vec<MasterKey> = Vec::with_capacity(retired.len());
        for key in retired {
            if key.id != current.id && kept.iter().all(|k| k.id != key.id) {
                kept.push(key);
            }
        }
        Self {
            current,
            retired: kept,
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Every configured key id, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .map(MasterKey::id)
    }

    /// Whether a value sealed under `key_id` can be opened.
    pub fn knows(&self, key_id: &str) -> bool {
        self.key_ids().any(|id| id == key_id)
    }

    /// The value sealed under the current key: `None` when it already is, else the
    /// value opened (with whichever configured key sealed it) and sealed anew.
    pub fn reseal(&self, sealed: &str, context: &[u8]) -> Result<Option<String>, KeyringError> {
        if sealed_key_id(sealed) == Some(self.current.id.as_str()) {
            return Ok(None);
        }
        let secret = self.open(sealed, context)?;
        Ok(Some(self.seal(&secret, context)))
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
    fn retired_keys_open_but_only_the_current_key_seals() {
        let ring = Keyring::new(key(2), vec![key(1), key(3)]);
        let sealed = ring.seal(&Secret::new("s"), b"ctx");
        assert_eq!(sealed_key_id(&sealed), Some(key(2).id()));
        for retired in [key(1), key(3)] {
            let before = Keyring::new(retired.clone(), vec![]).seal(&Secret::new("old"), b"ctx");
            assert_eq!(sealed_key_id(&before), Some(retired.id()));
            assert_eq!(ring.open(&before, b"ctx").unwrap().expose(), b"old");
        }
        assert_eq!(ring.current_id(), key(2).id());
        let ids: Vec<&str> = ring.key_ids().collect();
        assert_eq!(ids, [key(2).id(), key(1).id(), key(3).id()]);
        assert!(ring.knows(key(3).id()) && !ring.knows(key(4).id()));
    }

    #[test]
    fn retired_list_drops_the_current_key_and_duplicates() {
        let ring = Keyring::new(key(2), vec![key(1), key(2), key(1)]);
        let ids: Vec<&str> = ring.key_ids().collect();
        assert_eq!(ids, [key(2).id(), key(1).id()]);
    }

    #[test]
    fn reseal_moves_a_retired_value_to_the_current_key_and_leaves_current_ones() {
        let old = Keyring::new(key(1), vec![]).seal(&Secret::new("whsec_x"), b"sec_1");
        let ring = Keyring::new(key(2), vec![key(1)]);
        let resealed = ring.reseal(&old, b"sec_1").unwrap().unwrap();
        assert_eq!(sealed_key_id(&resealed), Some(key(2).id()));
        let only_new = Keyring::new(key(2), vec![]);
        assert_eq!(
            only_new.open(&resealed, b"sec_1").unwrap().expose(),
            b"whsec_x"
        );
        assert_eq!(ring.reseal(&resealed, b"sec_1"), Ok(None));
        // Bound to its record as before: another context cannot re-seal it.
        assert_eq!(ring.reseal(&old, b"sec_2"), Err(KeyringError::Unauthentic));
    }

    #[test]
    fn reseal_of_a_value_under_an_unknown_key_names_the_key() {
        let sealed = Keyring::new(key(9), vec![]).seal(&Secret::new("s"), b"ctx");
        let ring = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(
            ring.reseal(&sealed, b"ctx"),
            Err(KeyringError::UnknownKey(key(9).id().to_owned()))
        );
    }

    #[test]
    fn sealed_key_id_reads_only_the_sealed_form() {
        let cases = [
            ("hgs1.0a1b2c3d.AAAA", Some("0a1b2c3d")),
            ("hgs1.0a1b2c3d.", Some("0a1b2c3d")),
            ("hgs1.0a1b2c3d", None),
            ("hgs2.0a1b2c3d.AAAA", None),
            ("", None),
        ];
        for (sealed, expected) in cases {
            assert_eq!(sealed_key_id(sealed), expected, "{sealed}");
        }
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
    fn key_lists_split_on_commas_and_whitespace_and_name_a_bad_key_by_position() {
        let (a, b) = (STANDARD.encode([1u8; 32]), STANDARD.encode([2u8; 32]));
        let cases: [(String, Result<usize, &str>); 5] = [
            (String::new(), Ok(0)),
            (a.clone(), Ok(1)),
            (format!(" {a} , {b},"), Ok(2)),
            (format!("{a}\n{b}\n"), Ok(2)),
            (
                format!("{a},AAAA"),
                Err("key 2: master key must be 32 bytes of base64, got 3 bytes"),
            ),
        ];
        for (text, expected) in cases {
            let parsed = parse_key_list(&text).map(|keys| keys.len());
            assert_eq!(parsed, expected.map_err(str::to_owned), "{text:?}");
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
