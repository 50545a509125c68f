//! Why a request was refused, and why a signer could not sign.
//!
//! **Invariant:** no message carries secret material, a received signature or a received
//! header value; only header *names* (which are public) appear.

use http::HeaderName;

/// Why `verify()` refused a request. [`Rejection::code`] is the stable API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("missing header {0}")]
    MissingHeader(HeaderName),
    #[error("malformed header {0}")]
    MalformedHeader(HeaderName),
    /// A body field the scheme verifies with (Linear's `webhookTimestamp`, Mailgun's
    /// `signature` object) is absent, or the body is no JSON object.
    #[error("missing body field {0}")]
    MissingField(&'static str),
    /// That body field is present but not of its form (a timestamp that is no integer).
    #[error("malformed body field {0}")]
    MalformedField(&'static str),
    /// The body is not the JSON object the scheme signs (SNS): not JSON, a member sent
    /// twice, or a member of the wrong type.
    #[error("malformed body")]
    MalformedBody,
    /// A body field names a signature version we do not verify (SNS `SignatureVersion`).
    #[error("body field {0} names no supported signature version")]
    UnsupportedFieldVersion(&'static str),
    /// An SNS message of a `Type` SNS does not send to HTTP subscriptions.
    #[error("unknown message type")]
    UnknownMessageType,
    /// The SNS topic is none of the source's: a valid signature only proves SNS sent it.
    #[error("the message's topic is not one this source accepts")]
    TopicMismatch,
    /// The SNS signing certificate URL is not on an allowed origin: never fetched.
    #[error("the signing certificate URL is not on an allowed origin")]
    CertificateUrlRefused,
    /// Verification needed a signing certificate that was not given (the caller must
    /// fetch it first: `certificate_url`, then `verify_with_certificate`).
    #[error("the signing certificate was not provided")]
    CertificateUnavailable,
    /// The same security-relevant header sent more than once: ambiguous, so refused.
    #[error("header {0} sent more than once")]
    DuplicateHeader(HeaderName),
    /// The header is well formed but holds no signature of a version we verify.
    #[error("header {0} holds no signature of a supported version")]
    UnsupportedVersion(HeaderName),
    #[error("no signature matches any active secret")]
    SignatureMismatch,
    #[error("token does not match any active secret")]
    TokenMismatch,
    /// `age_s` is how long before verification it was signed (negative: in the
    /// future); `tolerance_s` the window it fell out of.
    #[error("signature timestamp outside the accepted window")]
    TimestampOutOfTolerance { age_s: i64, tolerance_s: u64 },
    /// GitHub's SHA-1 `X-Hub-Signature` without `X-Hub-Signature-256`; SHA-1 is not accepted.
    #[error("only the legacy SHA-1 signature was sent; X-Hub-Signature-256 is required")]
    LegacySignatureOnly,
    /// Shopify's and go-pagerduty's libraries refuse an empty body before checking the
    /// HMAC; so do we for theirs.
    #[error("request body is empty")]
    EmptyBody,
    /// Operator side: the source has no unexpired secret.
    #[error("source has no active secret")]
    NoActiveSecret,
    /// Operator side: no secret candidate could be used as a key (e.g. not base64 after `whsec_`).
    #[error("no active secret is usable by this verifier")]
    UnusableSecrets,
    /// Operator side: the stored configuration does not pass `VerifierConfig::validate`.
    #[error("verifier misconfigured: {0}")]
    InvalidConfig(ConfigError),
}

impl Rejection {
    /// Stable snake_case code for the error envelope (SPEC §8).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "signature_missing",
            Self::MalformedHeader(_) => "signature_malformed",
            Self::MissingField(_) => "signature_missing",
            Self::MalformedField(_) => "signature_malformed",
            Self::DuplicateHeader(_) => "header_duplicated",
            Self::MalformedBody => "body_malformed",
            Self::UnsupportedFieldVersion(_) => "signature_version_unsupported",
            Self::UnknownMessageType => "message_type_unknown",
            Self::TopicMismatch => "topic_not_accepted",
            Self::CertificateUrlRefused => "certificate_url_refused",
            Self::CertificateUnavailable => "certificate_unavailable",
            Self::UnsupportedVersion(_) => "signature_version_unsupported",
            Self::SignatureMismatch => "signature_invalid",
            Self::TokenMismatch => "token_invalid",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::LegacySignatureOnly => "signature_legacy_unsupported",
            Self::EmptyBody => "body_missing",
            Self::NoActiveSecret => "no_active_secret",
            Self::UnusableSecrets => "secret_unusable",
            Self::InvalidConfig(_) => "verifier_misconfigured",
        }
    }

    /// True when the sender is at fault (answer 401); false for operator-side faults
    /// that no retry by the sender can fix and that deserve an alert instead.
    pub fn is_sender_fault(&self) -> bool {
        !matches!(
            self,
            Self::NoActiveSecret
                | Self::UnusableSecrets
                | Self::InvalidConfig(_)
                | Self::CertificateUnavailable
        )
    }
}

/// Why `sign()` could not produce headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("verifier misconfigured: {0}")]
    InvalidConfig(ConfigError),
    /// Nothing to sign with.
    #[error("no secret given")]
    NoSecret,
    /// e.g. a Standard Webhooks secret that is not base64 after `whsec_`, or an empty one.
    #[error("secret is not usable for this verifier")]
    InvalidSecret,
    /// The scheme signs the URL the sender calls, and none was given.
    #[error("this verifier signs the URL the sender calls; give it (hookgate sign: --source or --signed-url)")]
    NoUrl,
    /// The body cannot carry the signature (Mailgun's goes in a JSON object body).
    #[error("the body must be a JSON object to carry the signature")]
    BodyNotAnObject,
    /// The body lacks a member the sender's message must carry (an SNS message's
    /// `TopicArn`, `Message`, `SigningCertURL`, …).
    #[error("the body must carry {0} for this verifier")]
    MissingBodyField(&'static str),
    /// The signing time cannot be written as a date.
    #[error("the signing time is out of range")]
    InvalidTimestamp,
    /// The value for this header would not be a valid HTTP header value.
    #[error("value for header {0} is not a valid header value")]
    InvalidHeaderValue(&'static str),
}

/// A configuration rejected by [`VerifierConfig::validate`](super::VerifierConfig::validate); names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid verifier field `{field}`: {reason}")]
pub struct ConfigError {
    field: &'static str,
    reason: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
    pub fn field(&self) -> &'static str {
        self.field
    }
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}
