//! Discord interactions: `X-Signature-Ed25519: <hex>` = Ed25519 signature of
//! timestamp + body, made with the application's private key; the source's secret is
//! the application's **public key** (64 hex digits, from the Developer Portal).
//!
//! Mirrors `discord-interactions` 0.4.0 (PyPI), `discord_interactions/__init__.py`
//! (`verify_key` and `verify_key_decorator`), which verifies with PyNaCl 1.6.2
//! (libsodium's `crypto_sign_verify_detached`):
//! - both headers required; the message is the timestamp text as sent followed by the
//!   raw body; no replay window (the library has none);
//! - signature and key are hex of either case (`bytes.fromhex`);
//! - a PING (`"type": 1`) is answered `{"type": 1}` without a run.
//!
//! Choices: verification is `ed25519-dalek`'s `verify_strict`, which refuses what
//! libsodium refuses (a non-canonical `S`, small-order `R` or key); hex with spaces
//! between bytes, which `bytes.fromhex` skips, is refused as malformed. A provided key
//! must decode to a curve point (PyNaCl would only fail every request). hookgate cannot
//! make this secret: the operator provides it, and `hookgate sign` takes the private
//! key (a 32-byte seed in hex). De-dup key: body `id` (the interaction id); event name:
//! body `type`, named (`ping`, `application_command`, …). The body is parsed as JSON
//! for these two fields: an Ed25519 verification costs far more.

use std::borrow::Cow;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use http::{HeaderMap, HeaderName};
use rand::RngCore;
use serde::Deserialize;

use super::error::{Rejection, SignError};
use super::headers::Lines;
use super::mac::{attempt, first_matching_secret, Attempt};
use super::prepared::PreparedSecret;
use super::scheme::{header, EventName, Headers, Scheme};
use super::{Handshake, SecretCandidate, Verified};

pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("x-signature-ed25519");
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("x-signature-timestamp");

/// The interaction type of a PING.
const PING: u64 = 1;

/// The public key a secret spells: 32 bytes in hex of either case, a curve point.
pub(crate) fn public_key(secret: &[u8]) -> Option<VerifyingKey> {
    let mut bytes = [0; 32];
    hex::decode_to_slice(secret, &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The two body fields read, from a JSON parse (absent if the body is not a JSON object
/// with these fields of these types).
#[derive(Deserialize, Default)]
struct Interaction<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    kind: Option<u64>,
}

/// The name of an interaction type (Discord's `InteractionType`).
fn type_name(kind: u64) -> Option<&'static str> {
    Some(match kind {
        1 => "ping",
        2 => "application_command",
        3 => "message_component",
        4 => "application_command_autocomplete",
        5 => "modal_submit",
        _ => return None,
    })
}

fn verify<'a>(
    secrets: &[SecretCandidate<'a>],
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    let lines = Lines::read(headers, [&SIGNATURE, &TIMESTAMP]);
    let received = lines
        .single(0)?
        .ok_or_else(|| Rejection::MissingHeader(SIGNATURE.clone()))?;
    let timestamp = lines
        .single(1)?
        .ok_or_else(|| Rejection::MissingHeader(TIMESTAMP.clone()))?;
    let mut bytes = [0; 64];
    hex::decode_to_slice(received, &mut bytes)
        .map_err(|_| Rejection::MalformedHeader(SIGNATURE.clone()))?;
    let signature = Signature::from_bytes(&bytes);
    let message = [timestamp.as_bytes(), body].concat();
    let secret_id = first_matching_secret(secrets, Rejection::SignatureMismatch, |secret| {
        let key = match secret.prepared.and_then(PreparedSecret::ed25519) {
            Some(key) => *key,
            None => match public_key(secret.value) {
                Some(key) => key,
                None => return Attempt::Unusable,
            },
        };
        attempt(key.verify_strict(&message, &signature).is_ok())
    })?;
    let interaction: Interaction<'a> = serde_json::from_slice(body).unwrap_or_default();
    let handshake = (interaction.kind == Some(PING)).then_some(Handshake::DiscordPing);
    Ok(Verified {
        secret_id,
        dedup_key: interaction.id,
        event_name: interaction.kind.and_then(type_name).map(Cow::Borrowed),
        handshake,
    })
}

/// Discord's scheme (its line in `schemes.rs`).
pub(crate) struct Discord;

impl Scheme for Discord {
    type Options = ();
    const FORWARDED: &'static [&'static str] = &["x-signature-timestamp"];
    const SIGNATURE_HEADERS: &'static [&'static str] = &["x-signature-ed25519"];

    fn verify<'a>(
        _: &'a (),
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        _now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(secrets, headers, body)
    }

    fn prepare(_: &(), secret: &[u8]) -> PreparedSecret {
        PreparedSecret::for_ed25519(secret, public_key)
    }

    /// `secret` is the application's private key: a 32-byte Ed25519 seed in hex.
    fn sign(
        _: &(),
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        _msg_id: &str,
    ) -> Result<Headers, SignError> {
        let mut seed = [0; 32];
        hex::decode_to_slice(secret, &mut seed).map_err(|_| SignError::InvalidSecret)?;
        let key = SigningKey::from_bytes(&seed);
        let ts = now.to_string();
        let signature = key.sign(&[ts.as_bytes(), body].concat());
        Ok(vec![
            header("X-Signature-Ed25519", &hex::encode(signature.to_bytes()))?,
            header("X-Signature-Timestamp", &ts)?,
        ])
    }

    fn event_name(_: &()) -> EventName<'static> {
        EventName::Body
    }

    fn new_secret(_random: &mut dyn RngCore) -> Option<String> {
        None
    }

    fn check_secret(value: &str) -> Result<(), &'static str> {
        match public_key(value.as_bytes()) {
            Some(_) => Ok(()),
            None => Err("must be the application's Ed25519 public key: 64 hex digits"),
        }
    }

    /// RFC 8032 §7.1, test 1.
    #[cfg(any(test, fuzzing))]
    fn test_key_pair() -> Option<(&'static str, &'static str)> {
        Some((
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        ))
    }
}
