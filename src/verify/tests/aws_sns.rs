use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Map, Value};
use sha2::Digest;

use super::{accept, case, check, reject, Case, Expect};
use crate::verify::aws_sns::test_keys::{CERTIFICATE_URL, PRIVATE_KEY, TOPIC};
use crate::verify::{AwsSnsConfig, Handshake, VerifierConfig};

/// 2021-03-25T05:09:27.000Z, and the receiver's clock at it.
const TS: &str = "2021-03-25T05:09:27.123Z";
const NOW: i64 = 1_616_648_967;
const OTHER_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:someone-elses";
const SUBSCRIBE_URL: &str = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:hookgate-test&Token=2336412f37fb687f5d51e6e2425c464de";

fn sns() -> VerifierConfig {
    VerifierConfig::AwsSns(AwsSnsConfig::default())
}

fn notification() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "My First Message",
        "Message": "Hello world!\nwith \"quotes\" and ünïcode",
        "Timestamp": TS,
        "SignatureVersion": "1",
        "SigningCertURL": CERTIFICATE_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }) else {
        unreachable!()
    };
    map
}

fn confirmation(kind: &str) -> Map<String, Value> {
    let mut message = notification();
    message.remove("Subject");
    message.remove("UnsubscribeURL");
    message.insert("Type".into(), kind.into());
    message.insert("Message".into(), "You have chosen to subscribe".into());
    message.insert("SubscribeURL".into(), SUBSCRIBE_URL.into());
    message.insert("Token".into(), "2336412f37fb687f5d51e6e2425c464de".into());
    message
}

/// The canonical string of the SNS developer guide, written out here independently of
/// the code under test.
fn canonical(message: &Map<String, Value>) -> String {
    let keys: &[&str] = match message["Type"].as_str() {
        Some("Notification") => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        _ => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
    };
    keys.iter()
        .filter_map(|k| {
            message
                .get(*k)
                .and_then(Value::as_str)
                .map(|v| format!("{k}\n{v}\n"))
        })
        .collect()
}

/// `message` with a `Signature` by the test certificate's key over its canonical string.
fn signed(mut message: Map<String, Value>) -> Map<String, Value> {
    let key = RsaPrivateKey::from_pkcs8_pem(PRIVATE_KEY).unwrap();
    let text = canonical(&message);
    let signature = match message["SignatureVersion"].as_str() {
        Some("2") => key.sign(
            Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(text.as_bytes()),
        ),
        _ => key.sign(
            Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(text.as_bytes()),
        ),
    }
    .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
    message.insert("Signature".into(), encoded.into());
    message
}

fn body(message: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(message).unwrap()
}

fn with(mut message: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
    message.insert(key.into(), value);
    message
}

fn without(mut message: Map<String, Value>, key: &str) -> Map<String, Value> {
    message.remove(key);
    message
}

fn post(name: &'static str, body: &[u8], now: i64, expect: Expect) -> Case {
    let headers = [("x-amz-sns-message-type", "Notification")];
    case(
        name,
        &[("topic", TOPIC.as_bytes())],
        &headers,
        body,
        now,
        expect,
    )
}

#[test]
fn verifies_both_signature_versions_and_refuses_tampering() {
    let v1 = signed(notification());
    let v2 = signed(with(notification(), "SignatureVersion", "2".into()));
    let no_subject = signed(without(notification(), "Subject"));
    let null_subject = with(no_subject.clone(), "Subject", Value::Null);
    let accepted = || {
        accept("topic")
            .dedup(Some("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"))
            .event(Some("Notification"))
            .handshake(None)
    };
    let mut escaped = body(&v1);
    let plain = "\"Hello world!";
    let at = escaped
        .windows(plain.len())
        .position(|w| w == plain.as_bytes())
        .unwrap();
    escaped.splice(at + 1..at + 2, b"\\u0048".iter().copied());
    check(
        &sns(),
        &[
            post("version 1 (SHA1)", &body(&v1), NOW, accepted()),
            post("version 2 (SHA256)", &body(&v2), NOW, accepted()),
            post("no subject", &body(&no_subject), NOW, accepted()),
            post(
                "null subject is no subject",
                &body(&null_subject),
                NOW,
                accepted(),
            ),
            post(
                "escaped characters sign unescaped",
                &escaped,
                NOW,
                accepted(),
            ),
            post(
                "tampered message",
                &body(&with(v1.clone(), "Message", "Hello world?".into())),
                NOW,
                reject("signature_invalid"),
            ),
            post(
                "tampered subject",
                &body(&with(v1.clone(), "Subject", "Other".into())),
                NOW,
                reject("signature_invalid"),
            ),
            post(
                "subject removed",
                &body(&without(v1.clone(), "Subject")),
                NOW,
                reject("signature_invalid"),
            ),
            post(
                "version 1 relabelled 2",
                &body(&with(v1.clone(), "SignatureVersion", "2".into())),
                NOW,
                reject("signature_invalid"),
            ),
            post(
                "unsigned member changed",
                &body(&with(
                    v1.clone(),
                    "UnsubscribeURL",
                    "https://x.example/".into(),
                )),
                NOW,
                accepted(),
            ),
        ],
    );
}

#[test]
fn only_the_sources_topics_are_accepted_and_a_second_topic_rotates() {
    let message = signed(notification());
    let other = signed(with(notification(), "TopicArn", OTHER_TOPIC.into()));
    check(
        &sns(),
        &[
            case(
                "another topic, genuinely signed",
                &[("topic", TOPIC.as_bytes())],
                &[],
                &body(&other),
                NOW,
                reject("topic_not_accepted"),
            ),
            case(
                "rotated: old topic in grace",
                &[("new", OTHER_TOPIC.as_bytes()), ("old", TOPIC.as_bytes())],
                &[],
                &body(&message),
                NOW,
                accept("old"),
            ),
            case(
                "rotated: new topic",
                &[("old", TOPIC.as_bytes()), ("new", OTHER_TOPIC.as_bytes())],
                &[],
                &body(&other),
                NOW,
                accept("new"),
            ),
            case(
                "topic of another case",
                &[("topic", TOPIC.to_uppercase().as_bytes())],
                &[],
                &body(&message),
                NOW,
                reject("topic_not_accepted"),
            ),
        ],
    );
}

#[test]
fn the_replay_window_is_an_hour_back_and_five_minutes_ahead_unless_configured() {
    let message = body(&signed(notification()));
    check(
        &sns(),
        &[
            post("an hour old", &message, NOW + 3_600, accept("topic")),
            post(
                "stale",
                &message,
                NOW + 3_601,
                reject("timestamp_out_of_tolerance"),
            ),
            post("five minutes ahead", &message, NOW - 300, accept("topic")),
            post(
                "future",
                &message,
                NOW - 301,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
    let tight = VerifierConfig::AwsSns(AwsSnsConfig {
        tolerance_s: Some(60),
        auto_confirm: false,
    });
    check(
        &tight,
        &[
            post("within tolerance_s", &message, NOW + 60, accept("topic")),
            post(
                "past tolerance_s",
                &message,
                NOW + 61,
                reject("timestamp_out_of_tolerance"),
            ),
            post(
                "ahead within tolerance_s",
                &message,
                NOW - 60,
                accept("topic"),
            ),
            post(
                "ahead past tolerance_s",
                &message,
                NOW - 61,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
}

#[test]
fn confirmations_are_handshakes_confirmed_only_when_the_source_says_so() {
    let subscribe = body(&signed(confirmation("SubscriptionConfirmation")));
    let unsubscribe = body(&signed(confirmation("UnsubscribeConfirmation")));
    let without_token = body(&without(
        signed(confirmation("SubscriptionConfirmation")),
        "Token",
    ));
    check(
        &sns(),
        &[
            post(
                "subscription",
                &subscribe,
                NOW,
                accept("topic")
                    .event(Some("SubscriptionConfirmation"))
                    .handshake(Some(Handshake::SnsSubscriptionConfirmation {
                        confirm_url: None,
                    })),
            ),
            post(
                "unsubscribe",
                &unsubscribe,
                NOW,
                accept("topic")
                    .event(Some("UnsubscribeConfirmation"))
                    .handshake(Some(Handshake::SnsUnsubscribeConfirmation)),
            ),
            post(
                "token missing",
                &without_token,
                NOW,
                reject("signature_missing"),
            ),
            post(
                "token changed",
                &body(&with(
                    signed(confirmation("SubscriptionConfirmation")),
                    "Token",
                    "x".into(),
                )),
                NOW,
                reject("signature_invalid"),
            ),
        ],
    );
    let confirming = VerifierConfig::AwsSns(AwsSnsConfig {
        tolerance_s: None,
        auto_confirm: true,
    });
    check(
        &confirming,
        &[
            post(
                "subscription, auto_confirm",
                &subscribe,
                NOW,
                accept("topic").handshake(Some(Handshake::SnsSubscriptionConfirmation {
                    confirm_url: Some(SUBSCRIBE_URL.to_owned()),
                })),
            ),
            post(
                "unsubscribe is never confirmed",
                &unsubscribe,
                NOW,
                accept("topic").handshake(Some(Handshake::SnsUnsubscribeConfirmation)),
            ),
        ],
    );
}

#[test]
fn certificates_come_only_from_allowed_origins_and_must_be_the_one_named() {
    let at = |url: &str| body(&signed(with(notification(), "SigningCertURL", url.into())));
    check(
        &sns(),
        &[
            post("another host", &at("https://sns.us-east-1.evil.example/SimpleNotificationService-hookgate-test.pem"), NOW, reject("certificate_url_refused")),
            post("plain http", &at(&CERTIFICATE_URL.replace("https://", "http://")), NOW, reject("certificate_url_refused")),
            post("not a .pem", &at("https://sns.us-east-1.amazonaws.com/cert.txt"), NOW, reject("certificate_url_refused")),
            post("a host that merely starts like SNS", &at("https://sns.us-east-1.amazonaws.com.evil.example/a.pem"), NOW, reject("certificate_url_refused")),
            post("an allowed URL that serves nothing", &at("https://sns.eu-west-1.amazonaws.com/other.pem"), NOW, reject("certificate_unavailable")),
        ],
    );
}

#[test]
fn malformed_messages_are_refused_before_any_certificate_is_asked_for() {
    let message = signed(notification());
    let text = String::from_utf8(body(&message)).unwrap();
    let duplicated = text.replacen("{", "{\"Message\":\"injected\",", 1);
    let short_signature = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let other_key_signature = base64::engine::general_purpose::STANDARD.encode([7u8; 256]);
    let mut cases = vec![
        post("not JSON", b"Message=hi", NOW, reject("body_malformed")),
        post("empty", b"", NOW, reject("body_malformed")),
        post("an array", b"[]", NOW, reject("body_malformed")),
        post(
            "a member sent twice",
            duplicated.as_bytes(),
            NOW,
            reject("body_malformed"),
        ),
        post(
            "a member of the wrong type",
            &body(&with(message.clone(), "Message", json!(1))),
            NOW,
            reject("body_malformed"),
        ),
        post(
            "unknown type",
            &body(&with(message.clone(), "Type", "Bogus".into())),
            NOW,
            reject("message_type_unknown"),
        ),
        post(
            "type in lower case",
            &body(&with(message.clone(), "Type", "notification".into())),
            NOW,
            reject("message_type_unknown"),
        ),
        post(
            "version 3",
            &body(&with(message.clone(), "SignatureVersion", "3".into())),
            NOW,
            reject("signature_version_unsupported"),
        ),
        post(
            "version as a number",
            &body(&with(message.clone(), "SignatureVersion", json!(1))),
            NOW,
            reject("body_malformed"),
        ),
        post(
            "signature not base64",
            &body(&with(message.clone(), "Signature", "not base64!".into())),
            NOW,
            reject("signature_malformed"),
        ),
        post(
            "signature too short for RSA",
            &body(&with(message.clone(), "Signature", short_signature.into())),
            NOW,
            reject("signature_malformed"),
        ),
        post(
            "signature by another key",
            &body(&with(
                message.clone(),
                "Signature",
                other_key_signature.into(),
            )),
            NOW,
            reject("signature_invalid"),
        ),
        post(
            "timestamp without a date",
            &body(&with(message.clone(), "Timestamp", "1616648967".into())),
            NOW,
            reject("signature_malformed"),
        ),
    ];
    for member in [
        "Type",
        "Message",
        "MessageId",
        "Timestamp",
        "TopicArn",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
    ] {
        let name: &'static str = Box::leak(format!("{member} missing").into_boxed_str());
        cases.push(post(
            name,
            &body(&without(message.clone(), member)),
            NOW,
            reject("signature_missing"),
        ));
    }
    check(&sns(), &cases);
}

#[test]
fn without_its_certificate_a_genuine_message_is_not_verified() {
    let message = body(&signed(notification()));
    let secrets = [crate::verify::SecretCandidate {
        id: "topic",
        value: TOPIC.as_bytes(),
        prepared: None,
    }];
    let headers = http::HeaderMap::new();
    let config = sns();
    let got = crate::verify::verify(&config, &secrets, &headers, &message, super::URL, NOW);
    assert_eq!(
        got.map(|_| ()),
        Err(crate::verify::Rejection::CertificateUnavailable)
    );
}

#[test]
fn a_topic_arn_is_the_secret_format() {
    use crate::verify::VerifierKind;
    let kind = VerifierKind::AwsSns;
    for good in [
        TOPIC,
        "arn:aws-cn:sns:cn-north-1:123456789012:t",
        "arn:aws-us-gov:sns:us-gov-west-1:123456789012:orders.fifo",
        "arn:aws:sns:eu-west-1:000000000000:A_b-9",
    ] {
        assert_eq!(kind.check_secret(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "arn:aws:sqs:us-east-1:123456789012:t",
        "arn:aws:sns:us-east-1:12345678901:t",
        "arn:aws:sns:us-east-1:123456789012:",
        "arn:aws:sns:us-east-1:123456789012:a:b",
        "arn:awsx:sns:us-east-1:123456789012:t",
        "arn:aws-:sns:us-east-1:123456789012:t",
        "arn:aws:sns::123456789012:t",
        "arn:aws:sns:us-east-1:123456789012:t t",
    ] {
        assert!(kind.check_secret(bad).is_err(), "{bad}");
    }
    assert_eq!(kind.new_secret(&mut rand::thread_rng()), None);
}
