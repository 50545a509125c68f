//! Secret handling primitives: the redacting [`Secret`] type, sealing at rest under
//! the master key, random tokens and one-way token hashes.

mod keyring;
mod secret;

pub use keyring::{parse_key_list, sealed_key_id, Keyring, KeyringError, MasterKey};
pub use secret::Secret;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A random token `<prefix><hex of 24 random bytes>`, e.g. `hg_…` API keys.
pub fn random_token(prefix: &str) -> Secret {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(format!("{prefix}{}", hex::encode(bytes)))
}

/// Hash under which a bearer token is stored and looked up. Tokens carry 192 random
/// bits, so a plain SHA-256 is enough: there is nothing to brute-force.
pub fn token_hash(token: &[u8]) -> String {
    hex::encode(Sha256::digest(token))
}

/// Constant-time equality of two tokens of any length (hashing first hides length).
pub fn tokens_match(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_carry_prefix_and_differ() {
        let a = random_token("hg_");
        let b = random_token("hg_");
        assert!(a.expose_str().unwrap().starts_with("hg_"));
        assert_eq!(a.expose().len(), 3 + 48);
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(tokens_match(b"abc", b"abc"));
        assert!(!tokens_match(b"abc", b"abd"));
        assert!(!tokens_match(b"abc", b"abcd"));
    }
}
