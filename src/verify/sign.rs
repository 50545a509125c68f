//! Signers: the headers a real sender would send. Used by `hookgate sign`, by outbound
//! execution hooks (Standard Webhooks: [`SigningKey`](super::SigningKey)) and by tests.
//! Each scheme signs in its own file (`Scheme::sign`).

use super::error::SignError;
use super::VerifierConfig;

/// Signs `body` as `config`'s sender would when calling `url` at `now_unix_s` (`secret`
/// is the source's secret, or for a public-key scheme its private key), with `msg_id` as the
/// delivery/message id where the scheme carries one in a header. Event-name headers
/// (`X-GitHub-Event`, `X-Shopify-Topic`, an `event_header`) are not signed by any
/// sender, so they are left to the caller
/// ([`VerifierConfig::event_name`](super::VerifierConfig::event_name) says where).
pub fn sign(
    config: &VerifierConfig,
    secret: &[u8],
    body: &[u8],
    url: &str,
    now_unix_s: i64,
    msg_id: &str,
) -> Result<Vec<(String, String)>, SignError> {
    config.sign_request(secret, body, url, now_unix_s, msg_id)
}

/// The body to send with [`sign`]'s headers when `config`'s sender carries its signature
/// in the body (Mailgun): `body` with the signature put in. `None` when the body is
/// sent as given, which is every other sender.
pub fn sign_body(
    config: &VerifierConfig,
    secret: &[u8],
    body: &[u8],
    now_unix_s: i64,
    msg_id: &str,
) -> Result<Option<Vec<u8>>, SignError> {
    config.sign_body_request(secret, body, now_unix_s, msg_id)
}
