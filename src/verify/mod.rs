//! Inbound webhook verification (SPEC §3.2) and the matching signers.
//!
//! **Architecture Invariant:** verifiers are pure. They read no clock (`now_unix_s` is an
//! argument), do no I/O, never panic on any input, and compare every MAC or token in
//! constant time against every secret candidate.
//!
//! **Architecture Invariant:** a [`Verified`] can only be built here, by [`verify`].
//!
//! Each scheme lives in its own private file and follows the sender's official library
//! wherever one exists; each file's header comment names the library and the choices.
//! A file's unit struct implements [`Scheme`](scheme::Scheme) (what the scheme is: its
//! headers, verifier, signer, secret format), and its line in `schemes.rs` makes it a
//! `verifier.type`.

mod atlassian;
mod aws_sns;
mod bearer;
mod body;
mod config;
mod discord;
mod error;
mod github;
mod gitlab;
mod headers;
mod hmac_generic;
mod hubspot;
mod intercom;
mod linear;
mod mac;
mod mailgun;
mod paddle;
mod pagerduty;
mod prepared;
mod scheme;
mod schemes;
mod sendgrid;
mod shopify;
mod sign;
mod slack;
mod square;
mod standard_webhooks;
mod stripe;
mod template;
mod timestamp;
mod twilio;
mod typeform;
mod whsec;
mod zendesk;

/// Parser entry points for the fuzz targets in `fuzz/` and their stable corpus replay.
/// Not an API: hidden, and free to change.
#[doc(hidden)]
#[cfg(any(test, fuzzing))]
pub mod fuzz_logic;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;

pub use aws_sns::certificate::{CertificateError, SigningCertificate};
pub use aws_sns::origins::{CertificateOrigins, DEFAULT_CERTIFICATE_ORIGINS};
pub use aws_sns::AwsSnsConfig;
pub use bearer::BearerConfig;
pub use config::{MacAlgorithm, MacEncoding};
pub use error::{ConfigError, Rejection, SignError};
pub use hmac_generic::HmacConfig;
pub use hubspot::HubspotConfig;
pub use linear::LinearConfig;
pub use mailgun::MailgunConfig;
pub use paddle::PaddleConfig;
pub use prepared::PreparedSecret;
pub use scheme::EventName;
pub use schemes::{VerifierConfig, VerifierKind};
pub use sendgrid::SendgridConfig;
pub use sign::{sign, sign_body};
pub use standard_webhooks::{
    standard_webhooks_signature, standard_webhooks_signature_with, SigningKey,
};
pub use zendesk::ZendeskConfig;

/// One active secret of a source, as stored (plaintext). For `stripe` and
/// `standard_webhooks` this is the full `whsec_…` string's bytes.
#[derive(Clone, Copy)]
pub struct SecretCandidate<'a> {
    pub id: &'a str,
    pub value: &'a [u8],
    /// The same secret made ready for the verifier in use, if the caller keeps one (a
    /// cached source does): it only saves work, and is ignored if made for another scheme.
    pub prepared: Option<&'a PreparedSecret>,
}

impl fmt::Debug for SecretCandidate<'_> {
    // Secrets must never reach a log, not even through `{:?}` of a containing struct.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCandidate")
            .field("id", &self.id)
            .field("value", &"<redacted>")
            .field("prepared", &self.prepared.is_some())
            .finish()
    }
}

/// A protocol handshake to answer without creating a run (SPEC §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// GitHub `ping` event: answer 200.
    GithubPing,
    /// Slack `url_verification`: answer 200 with the challenge.
    SlackUrlVerification { challenge: String },
    /// Discord PING (interaction `type` 1): answer 200 `{"type":1}` (PONG).
    DiscordPing,
    /// SNS `SubscriptionConfirmation`: answer 200. `confirm_url` is its `SubscribeURL`
    /// when the source confirms by itself (`auto_confirm`); otherwise the operator
    /// confirms with the URL in the recorded body.
    SnsSubscriptionConfirmation { confirm_url: Option<String> },
    /// SNS `UnsubscribeConfirmation`: answer 200; its `SubscribeURL` is never called.
    SnsUnsubscribeConfirmation,
}

/// Proof that a request was verified. Only [`verify`] constructs one.
///
/// It borrows from the request and the secret candidates (`'a`): verifying allocates
/// nothing for a well-formed request, and the caller copies what it keeps, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    secret_id: &'a str,
    dedup_key: Option<Cow<'a, str>>,
    event_name: Option<Cow<'a, str>>,
    handshake: Option<Handshake>,
}

impl Verified<'_> {
    /// Id of the first secret candidate (in the order given) whose signature matched.
    pub fn secret_id(&self) -> &str {
        self.secret_id
    }
    /// The sender's de-dup key (SPEC §3.2 table), if it sent one.
    pub fn dedup_key(&self) -> Option<&str> {
        self.dedup_key.as_deref()
    }
    /// The event name used by `event_filter` (SPEC §7.1), if any.
    pub fn event_name(&self) -> Option<&str> {
        self.event_name.as_deref()
    }
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }
}

/// Verifies one inbound request against every secret candidate.
///
/// `body` must be the raw bytes received; `url` the URL the sender called, as the
/// sender knows it (the source's `ingress_url`, built from the public URL, plus the
/// request's query), which Twilio, Square and HubSpot sign; `now_unix_s` is the
/// receiver's clock. A scheme signed with a certificate (SNS) needs
/// [`verify_with_certificate`] and refuses here.
pub fn verify<'a>(
    config: &'a VerifierConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    url: &'a str,
    now_unix_s: i64,
) -> Result<Verified<'a>, Rejection> {
    verify_with_certificate(config, secrets, headers, body, url, None, now_unix_s)
}

/// [`verify`], given the signing certificate fetched from the URL [`certificate_url`]
/// named for this request (the ingress layer fetches it: verifying does no I/O).
/// Every scheme but SNS ignores it.
pub fn verify_with_certificate<'a>(
    config: &'a VerifierConfig,
    secrets: &[SecretCandidate<'a>],
    headers: &'a HeaderMap,
    body: &'a [u8],
    url: &'a str,
    certificate: Option<&SigningCertificate>,
    now_unix_s: i64,
) -> Result<Verified<'a>, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NoActiveSecret);
    }
    config.verify_request(secrets, headers, body, url, certificate, now_unix_s)
}

/// The signing certificate to fetch before verifying this request, for a scheme signed
/// with a certificate it publishes (SNS), or `None`. A URL comes back only once
/// everything that can be checked without the certificate passed (the body's shape,
/// the signature's form, the secret, the replay window) and the URL is on one of
/// `origins`: a request that cannot be genuine never causes a fetch.
pub fn certificate_url<'a>(
    config: &'a VerifierConfig,
    secrets: &[SecretCandidate<'a>],
    body: &'a [u8],
    origins: &CertificateOrigins,
    now_unix_s: i64,
) -> Result<Option<Cow<'a, str>>, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NoActiveSecret);
    }
    config.certificate_url(secrets, body, origins, now_unix_s)
}
