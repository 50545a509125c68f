//! Secrets made ready for their source's verifier once, when the source is loaded,
//! instead of on every request.
//!
//! An HMAC key schedule is the key padded to a block and the inner and outer pads each
//! hashed: two of the eighteen SHA-256 blocks a 1 KiB body costs, plus the padding work,
//! and for Standard Webhooks the `whsec_` base64 decoded first. A [`PreparedSecret`]
//! holds the state after that, and a verification starts from a copy of it. A bearer
//! token's digest is taken once the same way, and a sender's public key (Discord's
//! Ed25519, SendGrid's P-256) is decoded and its point checked once.
//!
//! A preparation only ever saves work: a scheme uses one only if it was made the way
//! the scheme keys its MAC, and otherwise computes from the plain secret, so the
//! outcome of a verification never depends on whether a secret was prepared (the
//! verifier vectors run both ways).

use std::fmt;

use hmac::digest::KeyInit;
use hmac::Hmac;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

use super::whsec;
use super::VerifierConfig;

/// One secret, made ready for one verifier configuration. Derived from the secret, so as
/// sensitive as the secret itself: it is never printed.
pub struct PreparedSecret(Ready);

enum Ready {
    /// HMAC-SHA256 keyed with the secret's bytes: GitHub, Stripe, Shopify, Slack, and
    /// the generic scheme with SHA-256.
    Sha256(Hmac<Sha256>),
    /// HMAC-SHA256 keyed with the base64-decoded `whsec_` secret: Standard Webhooks.
    WhsecSha256(Hmac<Sha256>),
    /// HMAC-SHA1 keyed with the secret's bytes: Intercom, Twilio.
    Sha1(Hmac<Sha1>),
    /// HMAC-SHA512 keyed with the secret's bytes: the generic scheme with SHA-512.
    Sha512(Box<Hmac<Sha512>>),
    /// SHA-256 of a bearer token, the form tokens are compared in.
    TokenDigest([u8; 32]),
    /// An Ed25519 public key, decoded from hex: Discord.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A P-256 public key, decoded from base64 DER: SendGrid.
    P256(Box<p256::ecdsa::VerifyingKey>),
    /// Nothing prepared (a `whsec_` secret that is not base64, or a scheme with nothing
    /// to prepare): verifications compute from the plain secret.
    Nothing,
}

impl PreparedSecret {
    /// Prepares `secret` (as stored: for `stripe` and `standard_webhooks` the whole
    /// `whsec_…` string) for `config`, as its scheme says
    /// (`Scheme::prepare`).
    pub fn new(config: &VerifierConfig, secret: &[u8]) -> Self {
        config.prepare(secret)
    }

    /// HMAC-SHA256 keyed with the secret's own bytes.
    pub(crate) fn for_hmac_sha256(secret: &[u8]) -> Self {
        Self(keyed::<Hmac<Sha256>>(secret).map_or(Ready::Nothing, Ready::Sha256))
    }

    /// HMAC-SHA256 keyed with the key inside a `whsec_…` secret.
    pub(crate) fn for_whsec_hmac_sha256(secret: &[u8]) -> Self {
        Self(whsec::keyed(secret).map_or(Ready::Nothing, Ready::WhsecSha256))
    }

    /// HMAC-SHA1 keyed with the secret's own bytes.
    pub(crate) fn for_hmac_sha1(secret: &[u8]) -> Self {
        Self(keyed::<Hmac<Sha1>>(secret).map_or(Ready::Nothing, Ready::Sha1))
    }

    /// HMAC-SHA512 keyed with the secret's own bytes.
    pub(crate) fn for_hmac_sha512(secret: &[u8]) -> Self {
        Self(
            keyed::<Hmac<Sha512>>(secret)
                .map_or(Ready::Nothing, |mac| Ready::Sha512(Box::new(mac))),
        )
    }

    /// The SHA-256 of a token compared as a digest.
    pub(crate) fn for_token(secret: &[u8]) -> Self {
        Self(Ready::TokenDigest(Sha256::digest(secret).into()))
    }

    /// An Ed25519 public key, if `decode` makes one of the secret.
    pub(crate) fn for_ed25519(
        secret: &[u8],
        decode: fn(&[u8]) -> Option<ed25519_dalek::VerifyingKey>,
    ) -> Self {
        Self(decode(secret).map_or(Ready::Nothing, Ready::Ed25519))
    }

    /// A P-256 public key, if `decode` makes one of the secret.
    pub(crate) fn for_p256(
        secret: &[u8],
        decode: fn(&[u8]) -> Option<p256::ecdsa::VerifyingKey>,
    ) -> Self {
        Self(decode(secret).map_or(Ready::Nothing, |key| Ready::P256(Box::new(key))))
    }

    /// Nothing made ready: the scheme computes from the plain secret.
    #[allow(dead_code)] // for schemes with nothing to prepare; none yet
    pub(crate) fn nothing() -> Self {
        Self(Ready::Nothing)
    }

    /// The decoded Ed25519 public key, if prepared so.
    pub(crate) fn ed25519(&self) -> Option<&ed25519_dalek::VerifyingKey> {
        match &self.0 {
            Ready::Ed25519(key) => Some(key),
            _ => None,
        }
    }

    /// The decoded P-256 public key, if prepared so.
    pub(crate) fn p256(&self) -> Option<&p256::ecdsa::VerifyingKey> {
        match &self.0 {
            Ready::P256(key) => Some(key),
            _ => None,
        }
    }

    /// The HMAC-SHA256 keyed with the secret's own bytes, if prepared so.
    pub(crate) fn sha256(&self) -> Option<&Hmac<Sha256>> {
        match &self.0 {
            Ready::Sha256(mac) => Some(mac),
            _ => None,
        }
    }

    /// The HMAC-SHA256 keyed with the decoded `whsec_` secret, if prepared so.
    pub(crate) fn whsec_sha256(&self) -> Option<&Hmac<Sha256>> {
        match &self.0 {
            Ready::WhsecSha256(mac) => Some(mac),
            _ => None,
        }
    }

    /// The HMAC-SHA1 keyed with the secret's own bytes, if prepared so.
    pub(crate) fn sha1(&self) -> Option<&Hmac<Sha1>> {
        match &self.0 {
            Ready::Sha1(mac) => Some(mac),
            _ => None,
        }
    }

    /// The HMAC-SHA512 keyed with the secret's own bytes, if prepared so.
    pub(crate) fn sha512(&self) -> Option<&Hmac<Sha512>> {
        match &self.0 {
            Ready::Sha512(mac) => Some(mac),
            _ => None,
        }
    }

    /// The bearer token's SHA-256, if prepared so.
    pub(crate) fn token_digest(&self) -> Option<&[u8; 32]> {
        match &self.0 {
            Ready::TokenDigest(digest) => Some(digest),
            _ => None,
        }
    }
}

fn keyed<M: KeyInit>(key: &[u8]) -> Option<M> {
    M::new_from_slice(key).ok()
}

impl fmt::Debug for PreparedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedSecret(<redacted>)")
    }
}
