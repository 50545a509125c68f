//! Amazon SNS HTTP/HTTPS subscriptions: the body is a JSON message whose `Signature` is
//! RSA PKCS#1 v1.5 over SNS's canonical string (SHA1 for `SignatureVersion` 1, SHA256
//! for 2), made with the key of the X.509 certificate at `SigningCertURL`.
//!
//! Mirrors `sns-validator` 0.3.5 (npm, AWS's `aws-js-sns-message-validator`),
//! `index.js` (`validateMessageStructure`, `validateUrl`, `validateSignature`), and the
//! SNS developer guide's "Verifying the signatures of Amazon SNS messages":
//! - required: `Message`, `MessageId`, `Timestamp`, `TopicArn`, `Type`, `Signature`,
//!   `SigningCertURL`, `SignatureVersion`; confirmations also `SubscribeURL`, `Token`;
//! - the canonical string is `Name\nvalue\n` for each signed member present, in byte
//!   order of the names: a `Notification` signs `Message`, `MessageId`, `Subject` (when
//!   sent; `null` counts as absent, as the library deletes it), `Timestamp`,
//!   `TopicArn`, `Type`; a `SubscriptionConfirmation` or `UnsubscribeConfirmation`
//!   signs `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`,
//!   `Type`;
//! - `SignatureVersion` is `"1"` or `"2"`; the signature is base64;
//! - the certificate comes only over HTTPS from `sns.<region>.amazonaws.com[.cn]`, a
//!   path ending in `.pem` (`origins.rs`; the operator may add origins).
//!
//! Choices where the library and the guide differ, or say nothing:
//! - the guide's member lists, not the library's: `sns-validator` signs an
//!   `UnsubscribeConfirmation` with the `Notification` list (no `Token`, which SNS does
//!   sign) and signs `SubscribeURL` or `Subject` wherever present;
//! - a member sent twice, or a read member that is not a string, is a malformed body
//!   (`JSON.parse` keeps the last one); Lambda's `SigningCertUrl` spelling is not read
//!   (it never reaches an HTTP subscription);
//! - **the secret is the `TopicArn`** the source accepts, compared in constant time: a
//!   valid SNS signature proves only that SNS sent the message, and anyone can create
//!   a topic that posts to this URL. hookgate cannot make it (`new_secret` is `None`);
//!   rotating it with a grace period moves a source to a new topic without a gap;
//! - a replay window the library lacks: `Timestamp` (ISO 8601, milliseconds) at most
//!   `tolerance_s` old (default 3600 s: SNS retries a failed HTTP delivery for up to an
//!   hour under its default delivery policy's ceiling) and at most 300 s ahead (clock
//!   skew); the de-dup key is `MessageId`, which SNS keeps across retries;
//! - the event name is `Type`: always sent, unlike the publisher's optional `Subject`;
//! - a `SubscriptionConfirmation` or `UnsubscribeConfirmation` is a handshake: recorded,
//!   no run. With `auto_confirm` the ingress layer GETs the `SubscribeURL` (only on an
//!   allowed origin); otherwise the operator confirms with the URL in the recorded body.
//!
//! Everything that needs no certificate is checked first ([`certificate_url`]), so
//! ingress fetches one only for a message that could otherwise be genuine; `verify`
//! then takes the fetched [`SigningCertificate`] and checks it is the one named.

pub(crate) mod certificate;
pub(crate) mod message;
pub(crate) mod origins;
mod signer;

use std::borrow::Cow;
use std::ops::RangeInclusive;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;
use rand::RngCore;
use rsa::Pkcs1v15Sign;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use self::certificate::SigningCertificate;
use self::message::{required_members, Member, Message, MessageType, SignatureVersion};
use self::origins::CertificateOrigins;
use super::error::{ConfigError, Rejection, SignError};
use super::mac::{attempt, ct_eq, first_matching_secret};
use super::prepared::PreparedSecret;
use super::scheme::{EventName, Headers, Scheme};
use super::timestamp::{check_tolerance, check_window, parse_utc_fraction_seconds};
use super::{Handshake, SecretCandidate, Verified};

/// The scheme's options: `{"type": "aws_sns"}` alone verifies with the default window
/// and leaves subscriptions for the operator to confirm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSnsConfig {
    /// Refuse a `Timestamp` older than this many seconds (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_s: Option<u64>,
    /// Confirm a subscription by calling its `SubscribeURL` when SNS asks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_confirm: bool,
}

/// How old a message may be without a `tolerance_s`.
const DEFAULT_TOLERANCE_S: u64 = 3_600;
/// How far ahead of the receiver's clock a message may be dated.
const MAX_AHEAD_S: u64 = 300;
/// The signature sizes of RSA keys of 1024 to 4096 bits: anything else cannot verify,
/// and is refused before a certificate is fetched.
const SIGNATURE_BYTES: RangeInclusive<usize> = 128..=512;

/// What every request must pass before its certificate is worth fetching.
struct Checked<'a> {
    message: Message<'a>,
    kind: MessageType,
    version: SignatureVersion,
    signature: Vec<u8>,
    secret_id: &'a str,
}

fn check<'a>(
    options: &AwsSnsConfig,
    secrets: &[SecretCandidate<'a>],
    body: &'a [u8],
    now: i64,
) -> Result<Checked<'a>, Rejection> {
    let message = Message::parse(body)?;
    let kind =
        MessageType::parse(message.required(Member::Type)?).ok_or(Rejection::UnknownMessageType)?;
    for member in required_members(kind) {
        message.required(*member)?;
    }
    let version = match message.signature_version.as_deref() {
        None => return Err(Rejection::MissingField("SignatureVersion")),
        Some("1") => SignatureVersion::V1,
        Some("2") => SignatureVersion::V2,
        Some(_) => return Err(Rejection::UnsupportedFieldVersion("SignatureVersion")),
    };
    let encoded = message
        .signature
        .as_deref()
        .ok_or(Rejection::MissingField("Signature"))?;
    let signature = STANDARD
        .decode(encoded)
        .ok()
        .filter(|bytes| SIGNATURE_BYTES.contains(&bytes.len()))
        .ok_or(Rejection::MalformedField("Signature"))?;
    if message.signing_cert_url.is_none() {
        return Err(Rejection::MissingField("SigningCertURL"));
    }
    let topic = message.required(Member::TopicArn)?.as_bytes();
    let secret_id = first_matching_secret(secrets, Rejection::TopicMismatch, |secret| {
        attempt(ct_eq(secret.value, topic).into())
    })?;
    let signed_at = parse_utc_fraction_seconds(message.required(Member::Timestamp)?)
        .ok_or(Rejection::MalformedField("Timestamp"))?;
    let tolerance = options.tolerance_s.unwrap_or(DEFAULT_TOLERANCE_S);
    check_window(signed_at, now, tolerance, Some(tolerance.min(MAX_AHEAD_S)))?;
    Ok(Checked {
        message,
        kind,
        version,
        signature,
        secret_id,
    })
}

/// The `SigningCertURL` to fetch for this request, once everything that can be
/// checked without the certificate has passed and the URL is on an allowed origin.
fn certificate_url<'a>(
    options: &AwsSnsConfig,
    secrets: &[SecretCandidate<'a>],
    body: &'a [u8],
    origins: &CertificateOrigins,
    now: i64,
) -> Result<Cow<'a, str>, Rejection> {
    let checked = check(options, secrets, body, now)?;
    let url = checked
        .message
        .signing_cert_url
        .ok_or(Rejection::MissingField("SigningCertURL"))?;
    if !origins.permits_certificate(&url) {
        return Err(Rejection::CertificateUrlRefused);
    }
    Ok(url)
}

fn verify<'a>(
    options: &AwsSnsConfig,
    secrets: &[SecretCandidate<'a>],
    body: &'a [u8],
    certificate: Option<&SigningCertificate>,
    now: i64,
) -> Result<Verified<'a>, Rejection> {
    let checked = check(options, secrets, body, now)?;
    let named = checked.message.signing_cert_url.as_deref();
    let certificate = certificate
        .filter(|c| Some(c.url()) == named)
        .ok_or(Rejection::CertificateUnavailable)?;
    let canonical = checked.message.canonical(checked.kind);
    let verified = match checked.version {
        SignatureVersion::V1 => certificate.key().verify(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(canonical.as_bytes()),
            &checked.signature,
        ),
        SignatureVersion::V2 => certificate.key().verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(canonical.as_bytes()),
            &checked.signature,
        ),
    };
    verified.map_err(|_| Rejection::SignatureMismatch)?;
    let handshake = match checked.kind {
        MessageType::Notification => None,
        MessageType::SubscriptionConfirmation => Some(Handshake::SnsSubscriptionConfirmation {
            confirm_url: options
                .auto_confirm
                .then(|| checked.message.get(Member::SubscribeUrl).map(str::to_owned))
                .flatten(),
        }),
        MessageType::UnsubscribeConfirmation => Some(Handshake::SnsUnsubscribeConfirmation),
    };
    Ok(Verified {
        secret_id: checked.secret_id,
        dedup_key: checked.message.message_id,
        event_name: Some(Cow::Borrowed(checked.kind.as_str())),
        handshake,
    })
}

/// Whether `value` has the shape of an SNS topic ARN:
/// `arn:<partition>:sns:<region>:<12-digit account>:<topic name>`.
fn is_topic_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    let [arn, partition, service, region, account, name] = parts.as_slice() else {
        return false;
    };
    // `aws`, `aws-cn`, `aws-us-gov`, …
    let partition_ok = partition.strip_prefix("aws").is_some_and(|rest| {
        (rest.is_empty() || rest.starts_with('-'))
            && rest
                .split('-')
                .skip(1)
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
    });
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let topic = name.strip_suffix(".fifo").unwrap_or(name);
    let name_ok = (1..=256).contains(&topic.len())
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    *arn == "arn" && partition_ok && *service == "sns" && region_ok && account_ok && name_ok
}

/// Amazon SNS's scheme (its line in `schemes.rs`).
pub(crate) struct AwsSns;

impl Scheme for AwsSns {
    type Options = AwsSnsConfig;
    const FORWARDED: &'static [&'static str] = &[
        "x-amz-sns-message-type",
        "x-amz-sns-message-id",
        "x-amz-sns-topic-arn",
        "x-amz-sns-subscription-arn",
    ];
    // The signature travels in the body.
    const SIGNATURE_HEADERS: &'static [&'static str] = &[];

    fn validate(options: &AwsSnsConfig) -> Result<(), ConfigError> {
        options.tolerance_s.map_or(Ok(()), check_tolerance)
    }

    /// Without the certificate nothing verifies: what can be checked is, then the
    /// request is refused with `certificate_unavailable`.
    fn verify<'a>(
        options: &'a AwsSnsConfig,
        secrets: &[SecretCandidate<'a>],
        _headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, body, None, now)
    }

    fn verify_with_certificate<'a>(
        options: &'a AwsSnsConfig,
        secrets: &[SecretCandidate<'a>],
        _headers: &'a HeaderMap,
        body: &'a [u8],
        _url: &'a str,
        certificate: Option<&SigningCertificate>,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        verify(options, secrets, body, certificate, now)
    }

    fn certificate_url<'a>(
        options: &'a AwsSnsConfig,
        secrets: &[SecretCandidate<'a>],
        body: &'a [u8],
        origins: &CertificateOrigins,
        now: i64,
    ) -> Result<Option<Cow<'a, str>>, Rejection> {
        certificate_url(options, secrets, body, origins, now).map(Some)
    }

    fn prepare(_: &AwsSnsConfig, _secret: &[u8]) -> PreparedSecret {
        PreparedSecret::nothing()
    }

    /// The headers SNS sends beside the message (`secret` is the private key PEM, the
    /// body the message to sign, as for [`Scheme::sign_body`]).
    fn sign(
        _: &AwsSnsConfig,
        secret: &[u8],
        body: &[u8],
        _url: &str,
        now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError> {
        signer::headers(secret, body, now, msg_id)
    }

    /// The message completed and signed with `secret`, the private key of the
    /// certificate at its `SigningCertURL` (`signer.rs`).
    fn sign_body(
        _: &AwsSnsConfig,
        secret: &[u8],
        body: &[u8],
        now: i64,
        msg_id: &str,
    ) -> Result<Option<Vec<u8>>, SignError> {
        signer::signed_message(secret, body, now, msg_id).map(Some)
    }

    fn event_name(_: &AwsSnsConfig) -> EventName<'static> {
        EventName::Body
    }

    fn new_secret(_random: &mut dyn RngCore) -> Option<String> {
        None
    }

    fn check_secret(value: &str) -> Result<(), &'static str> {
        match is_topic_arn(value) {
            true => Ok(()),
            false => Err("must be the SNS topic ARN the source accepts: arn:aws:sns:<region>:<12-digit account>:<topic>"),
        }
    }

    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<AwsSnsConfig> {
        vec![
            AwsSnsConfig::default(),
            AwsSnsConfig {
                tolerance_s: Some(600),
                auto_confirm: true,
            },
        ]
    }

    /// The test certificate's private key (tests/vectors/aws_sns.key.pem) and the topic
    /// the tests' messages come from.
    #[cfg(any(test, fuzzing))]
    fn test_key_pair() -> Option<(&'static str, &'static str)> {
        Some((test_keys::PRIVATE_KEY, test_keys::TOPIC))
    }

    #[cfg(any(test, fuzzing))]
    fn test_certificate() -> Option<SigningCertificate> {
        SigningCertificate::from_pem(
            test_keys::CERTIFICATE_URL,
            test_keys::CERTIFICATE.as_bytes(),
        )
        .ok()
    }

    #[cfg(any(test, fuzzing))]
    fn test_body() -> Option<&'static [u8]> {
        Some(test_keys::MESSAGE)
    }
}

/// The fixed key pair and certificate of the tests, vectors and fuzz targets (made by
/// `scripts/gen_vectors_sns.js`, which also signs the vectors with it).
#[cfg(any(test, fuzzing))]
pub(crate) mod test_keys {
    pub(crate) const PRIVATE_KEY: &str = include_str!("../../tests/vectors/aws_sns.key.pem");
    pub(crate) const CERTIFICATE: &str = include_str!("../../tests/vectors/aws_sns.cert.pem");
    pub(crate) const CERTIFICATE_URL: &str =
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate-test.pem";
    pub(crate) const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookgate-test";
    /// A message template `sign_body` completes.
    pub(crate) const MESSAGE: &[u8] = br#"{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:123456789012:hookgate-test","Subject":"test","Message":"{\"id\":\"evt_1\"}","SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate-test.pem"}"#;
}
