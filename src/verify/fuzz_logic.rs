//! The bodies of the fuzz targets in `fuzz/fuzz_targets/`, kept here so that the stable
//! test suite replays the seed corpus through exactly the same code (`tests/corpus.rs`).
//! Each function must not panic on any input; the `assert!`s state the invariants.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::aws_sns::message::{Message, MessageType};
use super::aws_sns::origins::CertificateOrigins;
use super::config::{MacAlgorithm, MacEncoding};
use super::template::Template;
use super::{
    body, github, hmac_generic, paddle, pagerduty, slack, standard_webhooks, stripe, twilio, whsec,
};
use super::{
    certificate_url, sign, sign_body, verify, verify_with_certificate, PreparedSecret,
    SecretCandidate, VerifierConfig,
};

/// Fixed clock for fuzzing: far from 0 so both window edges are reachable.
pub const NOW: i64 = 1_700_000_000;

/// The URL the fuzzed requests were sent to (Twilio, Square and HubSpot sign it).
pub const URL: &str = "https://hooks.example.com/v1/ingress/src_fuzz";

const SECRETS: [SecretCandidate<'static>; 2] = [
    SecretCandidate {
        id: "bad",
        value: b"whsec_not base64!",
        prepared: None,
    },
    SecretCandidate {
        id: "good",
        value: b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        prepared: None,
    },
];

pub fn stripe_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // The shortcut for the common shape reads what item-by-item reading reads.
    assert_eq!(stripe::parse_header(&text), stripe::parse_items(&text));
    if let Ok(parsed) = stripe::parse_header(&text) {
        assert!(parsed.timestamp >= 0);
        assert!(parsed.v1().next().is_some());
        assert!(parsed.v1().all(|v| text.contains(v)));
    }
}

pub fn standard_webhooks_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // The shortcut for one entry reads what splitting reads.
    let mut v1s = standard_webhooks::v1_signatures(&text);
    let split = v1s.next().map(|first| (first, v1s.next().is_some()));
    assert_eq!(standard_webhooks::first_v1(&text), split);
    for signature in standard_webhooks::v1_signatures(&text) {
        assert!(!signature.is_empty() || text.contains("v1,"));
    }
    if let Some(len) = whsec::with_key(data, <[u8]>::len) {
        assert!(len > 0);
    }
}

/// A `Paddle-Signature` value: parsed, its timestamp is digits it holds, and every `h1`
/// it yields is one of its items.
pub fn paddle_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // The shortcut for the common shape reads what item-by-item reading reads.
    assert_eq!(paddle::parse_header(&text), paddle::parse_items(&text));
    if let Ok(parsed) = paddle::parse_header(&text) {
        assert!(parsed.timestamp >= 0);
        assert!(parsed.h1().next().is_some());
        assert!(parsed.h1().all(|h1| text.contains(&format!("h1={h1}"))));
    }
}

/// One `X-PagerDuty-Signature` value: each entry read as go-pagerduty reads it, a digest
/// only from `v1=` and 64 hex digits, which spell it.
pub fn pagerduty_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for entry in text.split(',') {
        match pagerduty::parse_entry(entry) {
            pagerduty::Entry::Digest(digest) => {
                let hex = entry.strip_prefix("v1=").unwrap_or_default();
                assert_eq!(hex.to_ascii_lowercase(), hex::encode(digest));
            }
            pagerduty::Entry::OtherLength => {
                assert!(entry.starts_with("v1=") && entry.len() != 3 + 64);
            }
            pagerduty::Entry::Skipped => {}
        }
    }
}

/// First line: `X-Slack-Request-Timestamp`; second: `X-Slack-Signature`; rest: body.
pub fn slack(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (ts, sig, body) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
    if let Some(ts) = ts.and_then(|t| std::str::from_utf8(t).ok()) {
        assert_eq!(
            slack::parse_timestamp(ts).is_some(),
            !ts.is_empty() && ts.len() <= 18 && ts.bytes().all(|b| b.is_ascii_digit())
        );
    }
    let _ = body::every_field(body, body::Wanted::ALL);
    let mut headers = HeaderMap::new();
    insert(&mut headers, b"x-slack-request-timestamp", ts);
    insert(&mut headers, b"x-slack-signature", sig);
    let _ = verify(&VerifierConfig::Slack, &SECRETS, &headers, body, URL, NOW);
}

/// Twilio's signed text. First line: `X-Twilio-Webhooks-Signature-Settings`; second:
/// the URL called; rest: the body. One URL spelling Twilio may have signed is the URL
/// itself, the other differs only in its port; the parameters come sorted, each once.
pub fn twilio_signed_text(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (settings, url, body) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
    let _ = twilio::algorithm(settings.and_then(|s| std::str::from_utf8(s).ok()));
    if let Some(url) = url.and_then(|u| std::str::from_utf8(u).ok()) {
        let [without, with] = twilio::url_variants(url);
        assert!(without == url || with == url, "{url:?}");
        let scheme = |u: &str| u.split_once("://").map(|(scheme, _)| scheme.to_owned());
        assert_eq!(scheme(&without), scheme(url));
        assert_eq!(scheme(&with), scheme(url));
        if let Some(hash) = twilio::body_sha256(url) {
            assert!(!hash.is_empty());
        }
    }
    let pairs = twilio::parameters(body);
    assert!(pairs.windows(2).all(|w| w[0] < w[1]));
    let mut headers = HeaderMap::new();
    insert(
        &mut headers,
        b"x-twilio-webhooks-signature-settings",
        settings,
    );
    insert(
        &mut headers,
        b"x-twilio-signature",
        Some(b"0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    );
    let url = url.and_then(|u| std::str::from_utf8(u).ok()).unwrap_or(URL);
    let _ = verify(&VerifierConfig::Twilio, &SECRETS, &headers, body, url, NOW);
}

/// The JSON body field scan: never panics, never returns a field it was not asked for,
/// and on every body `serde_json` accepts as an object it agrees with `serde_json`
/// (exactly without duplicate wanted keys, else on one of the duplicates' values).
pub fn body_fields(data: &[u8]) {
    body_fields_agree(data);
    for wanted in body::Wanted::subsets() {
        let fields = body::every_field(data, wanted);
        for (bit, found) in fields.iter().enumerate() {
            assert!(
                found.is_none() || wanted.has_index(bit),
                "{wanted:?} gave field {bit}"
            );
        }
    }
}

/// A field's value in a member's parsed value, as a `serde_json::Value` map reads it
/// (the last of duplicate nested keys).
fn field_value(field: &body::Field, value: &Value) -> Option<String> {
    let value = match field.inner {
        None => value,
        Some(inner) => value.as_object()?.get(inner)?,
    };
    match field.number {
        false => value.as_str().map(str::to_owned),
        true => value.as_u64().map(|n| n.to_string()),
    }
}

/// Checks [`body::fields`] against `serde_json` for the subsets of wanted fields
/// [`body::Wanted::subsets`] lists, if `serde_json` accepts `body` as an object. Returns
/// whether it compared exactly (no wanted top-level key appears twice); with
/// duplicates each field must be one occurrence's value.
pub(crate) fn body_fields_agree(body: &[u8]) -> bool {
    let Some(members) = json_members(body) else {
        return false;
    };
    let occurrences = body::FIELDS.each_ref().map(|field| {
        members
            .iter()
            .filter(|(key, _)| key == field.outer)
            .map(|(_, value)| field_value(field, value))
            .collect::<Vec<_>>()
    });
    let exact = occurrences.iter().all(|values| values.len() <= 1);
    let expected = if exact {
        Some(serde_fields(body))
    } else {
        None
    };
    for wanted in body::Wanted::subsets() {
        let got =
            body::every_field(body, wanted).map(|field| field.map(std::borrow::Cow::into_owned));
        for (bit, got) in got.into_iter().enumerate() {
            if !wanted.has_index(bit) {
                assert_eq!(got, None, "{wanted:?}, field {bit}");
            } else if let Some(expected) = &expected {
                assert_eq!(
                    got,
                    expected[bit],
                    "{wanted:?}: {}",
                    String::from_utf8_lossy(body)
                );
            } else if got.is_some() || !occurrences[bit].is_empty() {
                assert!(
                    occurrences[bit].contains(&got),
                    "{wanted:?}, field {bit} is {got:?}, none of {:?}: {}",
                    occurrences[bit],
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
    exact
}

/// The fields as a serde-based implementation reads them: the body parsed as an object
/// whose wanted top-level members are each a `serde_json::Value` (as in a
/// `#[derive(Deserialize)]` struct), all `None` for anything serde refuses, a duplicate
/// wanted top-level key included. The oracle of the scan's tests and fuzz target.
pub(crate) fn serde_fields(body: &[u8]) -> [Option<String>; body::FIELD_COUNT] {
    let Some(members) = wanted_members(body) else {
        return Default::default();
    };
    let duplicated = body::FIELDS
        .iter()
        .any(|field| members.iter().filter(|(key, _)| key == field.outer).count() > 1);
    if duplicated {
        return Default::default();
    }
    body::FIELDS.each_ref().map(|field| {
        members
            .iter()
            .find(|(key, _)| key == field.outer)
            .and_then(|(_, value)| field_value(field, value))
    })
}

/// The top-level members of `body` whose keys name a field, in order, duplicates kept,
/// each value parsed as a `serde_json::Value`, the others skipped as a derived struct
/// skips them (`IgnoredAny`); `None` unless `serde_json` accepts the body as one object.
fn wanted_members(body: &[u8]) -> Option<Vec<(String, Value)>> {
    struct Members(Vec<(String, Value)>);

    impl<'de> Deserialize<'de> for Members {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(MembersVisitor)
        }
    }

    struct MembersVisitor;

    impl<'de> Visitor<'de> for MembersVisitor {
        type Value = Members;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
            let mut members = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if body::FIELDS.iter().any(|field| field.outer == key) {
                    members.push((key, map.next_value::<Value>()?));
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(Members(members))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let members = Members::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(members.0)
}

/// The top-level members of `body` in order, duplicates kept, each value parsed as a
/// `serde_json::Value`; `None` unless `serde_json` accepts the whole body as one object.
pub(crate) fn json_members(body: &[u8]) -> Option<Vec<(String, Value)>> {
    struct Members(Vec<(String, Value)>);

    impl<'de> Deserialize<'de> for Members {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(MembersVisitor)
        }
    }

    struct MembersVisitor;

    impl<'de> Visitor<'de> for MembersVisitor {
        type Value = Members;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
            let mut members = Vec::new();
            while let Some(member) = map.next_entry::<String, Value>()? {
                members.push(member);
            }
            Ok(Members(members))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let members = Members::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(members.0)
}

pub fn github_signature(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(hex) = github::parse_signature(&text) {
        assert_eq!(hex.len(), 64);
        assert!(hex::decode(hex).is_ok());
    }
}

/// The header value, decoded every way `hmac` allows, and the input as a template.
pub fn hmac_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for encoding in [MacEncoding::Hex, MacEncoding::Base64] {
        for algorithm in [MacAlgorithm::Sha256, MacAlgorithm::Sha512] {
            for prefix in [None, Some("sha256="), Some("")] {
                if let Some(mac) = hmac_generic::parse_signature(prefix, encoding, algorithm, &text)
                {
                    assert_eq!(mac.as_slice().len(), hmac_generic::digest_len(algorithm));
                }
            }
        }
    }
    if let Ok(template) = Template::parse(&text) {
        assert!(!template.segments().is_empty());
    }
}

/// Input: header lines `name: value`, a blank line, then the body. Every verifier sees
/// the request; then every signer's output for the same body must verify.
pub fn verify_any(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let value = line[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&line[colon + 1..]);
            insert(&mut headers, &line[..colon], Some(value));
        }
    }
    // Every scheme of the table, those with options in each of their examples.
    for config in VerifierConfig::examples() {
        // A scheme signed with a certificate gets its test certificate, as if fetched.
        let certificate = config.kind().test_certificate();
        let certificate = certificate.as_ref();
        let plain =
            verify_with_certificate(&config, &SECRETS, &headers, body, URL, certificate, NOW);
        if let Ok(verified) = &plain {
            assert!(matches!(verified.secret_id(), "bad" | "good"));
        }
        // A prepared secret only saves work: same verdict, same fields.
        let prepared = SECRETS.map(|s| PreparedSecret::new(&config, s.value));
        let candidates: Vec<SecretCandidate<'_>> = SECRETS
            .iter()
            .zip(&prepared)
            .map(|(s, p)| SecretCandidate {
                prepared: Some(p),
                ..*s
            })
            .collect();
        assert_eq!(
            verify_with_certificate(&config, &candidates, &headers, body, URL, certificate, NOW),
            plain,
            "{config:?}"
        );
        round_trip(&config, body);
    }
}

fn round_trip(config: &VerifierConfig, body: &[u8]) {
    // A public-key scheme signs with its test pair's private key and verifies with the
    // public one; the others sign and verify with the same secret.
    let (signing, verifying) = match config.kind().test_key_pair() {
        Some((private, public)) => (private.as_bytes(), public.as_bytes()),
        None => (SECRETS[1].value, SECRETS[1].value),
    };
    let Ok(signed) = sign(config, signing, body, URL, NOW, "msg_fuzz") else {
        // A sender whose body has a shape of its own (an SNS message) signs only that.
        assert!(
            config.kind().test_body().is_some(),
            "signing failed for {:?}",
            config.kind()
        );
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &signed {
        insert(&mut headers, name.as_bytes(), Some(value.as_bytes()));
    }
    // Mailgun's signature goes in the body, a JSON object.
    let signed_body = match sign_body(config, signing, body, NOW, "msg_fuzz") {
        Ok(signed_body) => signed_body,
        Err(super::SignError::BodyNotAnObject) => return,
        Err(e) => panic!("signing the body failed for {:?}: {e}", config.kind()),
    };
    let body = signed_body.as_deref().unwrap_or(body);
    let secrets = [
        SECRETS[0],
        SecretCandidate {
            value: verifying,
            ..SECRETS[1]
        },
    ];
    let certificate = config.kind().test_certificate();
    let result = verify_with_certificate(
        config,
        &secrets,
        &headers,
        body,
        URL,
        certificate.as_ref(),
        NOW,
    );
    let refuses_empty = matches!(
        config,
        VerifierConfig::Shopify | VerifierConfig::Square | VerifierConfig::Pagerduty
    );
    // Linear dates the body inside it: a body without a fresh `webhookTimestamp` is
    // refused however it is signed, never for its signature.
    let dated_by_body = matches!(config, VerifierConfig::Linear(_));
    // An SNS message names its topic and certificate: one naming others than the test
    // pair's is refused for that, however it is signed, never for its signature.
    let names_its_keys = config.kind().test_certificate().is_some();
    if refuses_empty && body.is_empty() {
        assert_eq!(result.err(), Some(super::Rejection::EmptyBody));
    } else if dated_by_body && result.is_err() {
        assert!(
            matches!(
                result,
                Err(super::Rejection::MissingField(_)
                    | super::Rejection::MalformedField(_)
                    | super::Rejection::TimestampOutOfTolerance { .. })
            ),
            "{result:?}"
        );
    } else if names_its_keys && result.is_err() {
        assert!(
            matches!(
                result,
                Err(super::Rejection::TopicMismatch | super::Rejection::CertificateUnavailable)
            ),
            "{result:?}"
        );
    } else {
        assert_eq!(
            result.map(|v| v.secret_id().to_owned()).ok().as_deref(),
            Some("good")
        );
    }
}

/// An SNS message body: read, every signed member present is in its canonical string
/// as `Name\nvalue\n`; its certificate URL is allowed only on an SNS host over HTTPS;
/// and asking for a certificate never panics.
pub fn aws_sns_message(data: &[u8]) {
    let origins = CertificateOrigins::default();
    if let Ok(message) = Message::parse(data) {
        for kind in [
            MessageType::Notification,
            MessageType::SubscriptionConfirmation,
            MessageType::UnsubscribeConfirmation,
        ] {
            let canonical = message.canonical(kind);
            if let Some(topic) = message.topic_arn.as_deref() {
                assert!(canonical.contains(&format!("TopicArn\n{topic}\n")));
            }
            if let Some(id) = message.message_id.as_deref() {
                assert!(canonical.contains(&format!("MessageId\n{id}\n")));
            }
        }
        if let Some(url) = message.signing_cert_url.as_deref() {
            if origins.permits_certificate(url) {
                assert!(url.starts_with("https://") && url.ends_with(".pem"));
            }
        }
    }
    for config in VerifierConfig::examples() {
        if let Ok(Some(url)) = certificate_url(&config, &SECRETS, data, &origins, NOW) {
            assert!(origins.permits_certificate(&url));
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &[u8], value: Option<&[u8]>) {
    let (Ok(name), Some(Ok(value))) = (
        HeaderName::from_bytes(name),
        value.map(HeaderValue::from_bytes),
    ) else {
        return;
    };
    headers.append(name, value);
}
