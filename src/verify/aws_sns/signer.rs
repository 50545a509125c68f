//! What `hookgate sign` and the tests send as SNS: a message completed from a template
//! and signed with the certificate's private key, by the algorithm `verify` checks.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::message::{required_members, Member, Message, MessageType, SignatureVersion};
use crate::verify::error::SignError;
use crate::verify::scheme::{header, Headers};

/// The headers SNS sends with the message `body` completes to.
pub(super) fn headers(
    secret: &[u8],
    body: &[u8],
    now: i64,
    msg_id: &str,
) -> Result<Headers, SignError> {
    private_key(secret)?;
    let (kind, topic, _, _) = signable(&message_to_sign(body, now, msg_id)?)?;
    Ok(vec![
        header("x-amz-sns-message-type", kind.as_str())?,
        header("x-amz-sns-message-id", msg_id)?,
        header("x-amz-sns-topic-arn", &topic)?,
    ])
}

/// The message `body` completes to, with its `Signature`.
pub(super) fn signed_message(
    secret: &[u8],
    body: &[u8],
    now: i64,
    msg_id: &str,
) -> Result<Vec<u8>, SignError> {
    let key = private_key(secret)?;
    let unsigned = message_to_sign(body, now, msg_id)?;
    let (_, _, canonical, version) = signable(&unsigned)?;
    let signature = match version {
        SignatureVersion::V1 => key.sign(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(canonical.as_bytes()),
        ),
        SignatureVersion::V2 => key.sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(canonical.as_bytes()),
        ),
    }
    .map_err(|_| SignError::InvalidSecret)?;
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&unsigned) else {
        return Err(SignError::BodyNotAnObject);
    };
    object.insert(
        "Signature".to_owned(),
        Value::from(STANDARD.encode(signature)),
    );
    serde_json::to_vec(&object).map_err(|_| SignError::BodyNotAnObject)
}

/// A message to sign, from `hookgate sign`'s body: a JSON object with at least
/// `TopicArn`, `Message` and `SigningCertURL` (and for a confirmation `SubscribeURL` and
/// `Token`); `Type` defaults to `Notification` and `SignatureVersion` to `"1"`, as SNS's.
/// `MessageId` and `Timestamp` are set here, replacing any given.
fn message_to_sign(body: &[u8], now: i64, msg_id: &str) -> Result<Vec<u8>, SignError> {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return Err(SignError::BodyNotAnObject);
    };
    let timestamp = chrono::DateTime::from_timestamp(now, 0)
        .ok_or(SignError::InvalidTimestamp)?
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    object
        .entry("Type")
        .or_insert_with(|| Value::from("Notification"));
    object
        .entry("SignatureVersion")
        .or_insert_with(|| Value::from("1"));
    object.insert("MessageId".to_owned(), Value::from(msg_id));
    object.insert("Timestamp".to_owned(), Value::from(timestamp));
    object.remove("Signature");
    serde_json::to_vec(&object).map_err(|_| SignError::BodyNotAnObject)
}

/// The message's type, topic, canonical string and version, each required member
/// present.
fn signable(unsigned: &[u8]) -> Result<(MessageType, String, String, SignatureVersion), SignError> {
    let message = Message::parse(unsigned).map_err(|_| SignError::BodyNotAnObject)?;
    let kind = message
        .get(Member::Type)
        .and_then(MessageType::parse)
        .ok_or(SignError::MissingBodyField("Type"))?;
    for member in required_members(kind) {
        message
            .get(*member)
            .ok_or(SignError::MissingBodyField(member.name()))?;
    }
    if message.signing_cert_url.is_none() {
        return Err(SignError::MissingBodyField("SigningCertURL"));
    }
    let version = match message.signature_version.as_deref() {
        Some("1") => SignatureVersion::V1,
        Some("2") => SignatureVersion::V2,
        _ => return Err(SignError::MissingBodyField("SignatureVersion")),
    };
    let topic = message.get(Member::TopicArn).unwrap_or_default().to_owned();
    Ok((kind, topic, message.canonical(kind), version))
}

/// The private key a signer is given: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`) PEM.
fn private_key(secret: &[u8]) -> Result<RsaPrivateKey, SignError> {
    let pem = std::str::from_utf8(secret).map_err(|_| SignError::InvalidSecret)?;
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| SignError::InvalidSecret)
}
