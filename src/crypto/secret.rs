use std::fmt;

/// Secret material (webhook secrets, tokens, keys). Debug and Display never show the
/// value, so a secret that ends up in a log line, error or panic message is harmless.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw value. Call sites are the few places that must see it: signing,
    /// verifying, sealing and the one response that hands a new secret to its owner.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, for secrets that are text by construction (tokens, whsec_ keys).
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// First 8 hex digits of SHA-256: lets humans tell secrets apart without seeing them.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(&Sha256::digest(&self.0)[..4])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("whsec_supersecret");
        assert!(!format!("{secret:?}").contains("supersecret"));
        assert!(!format!("{secret}").contains("supersecret"));
        assert!(!format!("{:?}", Some(&secret)).contains("supersecret"));
    }

    #[test]
    fn fingerprint_is_first_eight_hex_of_sha256() {
        // sha256("abc") = ba7816bf…
        assert_eq!(Secret::new("abc").fingerprint(), "ba7816bf");
    }
}
