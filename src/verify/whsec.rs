//! The key inside a Standard Webhooks secret (`whsec_` + base64), decoded as every
//! official library decodes it. Its own module because both the scheme
//! (`standard_webhooks`) and the key schedules made ahead (`prepared`) need it.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{DecodeSliceError, Engine};
use hmac::digest::KeyInit;
use hmac::Hmac;
use sha2::Sha256;

const SECRET_PREFIX: &[u8] = b"whsec_";

/// Secrets are decoded padded or unpadded: the Python library appends `==` before
/// decoding, so unpadded secrets are in circulation.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Runs `f` with the HMAC key inside a `whsec_…` secret (prefix optional, as in every
/// library). `None` when not base64 or empty (`EmptyWebhookSecretError` in Python).
/// Keys of usual length are decoded on the stack.
pub(crate) fn with_key<R>(secret: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let mut buf = [0u8; 96];
    let heap;
    let key = match SECRET_BASE64.decode_slice(encoded, &mut buf) {
        Ok(len) => &buf[..len],
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            heap = SECRET_BASE64.decode(encoded).ok()?;
            &heap[..]
        }
        Err(DecodeSliceError::DecodeError(_)) => return None,
    };
    (!key.is_empty()).then(|| f(key))
}

/// The HMAC-SHA256 keyed with the key inside a `whsec_…` secret; `None` when the
/// secret cannot be a key (see [`with_key`]).
pub(crate) fn keyed(secret: &[u8]) -> Option<Hmac<Sha256>> {
    with_key(secret, |key| Hmac::<Sha256>::new_from_slice(key).ok()).flatten()
}
