//! The table of schemes (`schemes.rs`) holds every scheme to what the rest of hookgate
//! relies on: its headers classified (forwarded or a signature, never both), its secret
//! format consistent with itself, its configurations exercised by the fuzz targets.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use http::HeaderName;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{header_map, URL};
use crate::verify::fuzz_logic::NOW;
use crate::verify::{
    sign, sign_body, verify_with_certificate, EventName, SecretCandidate, VerifierConfig,
    VerifierKind,
};

/// A body every scheme's signature verifies on: Linear's also dates it, in milliseconds.
const BODY: &[u8] =
    br#"{"id":"evt_1","type":"x.y","event_id":"Ev1","event":{"type":"m"},"webhookTimestamp":1700000000000}"#;

/// Whether a configuration carries options beside its `type` (`hmac`, `bearer`): their
/// signature and event headers are the operator's, not the scheme's.
fn has_options(config: &VerifierConfig) -> bool {
    let wire = serde_json::to_value(config).unwrap();
    wire.as_object().unwrap().len() > 1
}

/// A scheme's own headers as a set, each checked to be a lower-case header name.
fn names(kind: VerifierKind, list: &'static [&'static str]) -> HashSet<&'static str> {
    for name in list {
        let parsed = HeaderName::from_bytes(name.as_bytes());
        assert!(
            parsed.is_ok_and(|n| n.as_str() == *name),
            "{kind:?}: {name:?} is not a lower-case header name"
        );
    }
    list.iter().copied().collect()
}

#[test]
fn every_kind_has_its_own_wire_name_and_is_exercised() {
    let names: HashSet<&str> = VerifierKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), VerifierKind::ALL.len(), "a name is used twice");
    let examples = VerifierConfig::examples();
    let covered: HashSet<VerifierKind> = examples.iter().map(VerifierConfig::kind).collect();
    assert_eq!(
        covered.len(),
        VerifierKind::ALL.len(),
        "a kind has no example"
    );
    for config in examples {
        config.validate().unwrap();
        let wire = serde_json::to_value(&config).unwrap();
        assert_eq!(wire["type"], config.kind().as_str());
        assert_eq!(
            serde_json::from_value::<VerifierConfig>(wire).unwrap(),
            config
        );
    }
}

#[test]
fn no_header_is_both_forwarded_and_a_signature() {
    let mut forwarded = HashSet::new();
    let mut signatures = HashSet::new();
    for &kind in VerifierKind::ALL {
        forwarded.extend(names(kind, kind.forwarded_headers()));
        signatures.extend(names(kind, kind.signature_headers()));
    }
    let both: Vec<_> = forwarded.intersection(&signatures).collect();
    assert!(both.is_empty(), "forwarded signature headers: {both:?}");
}

/// What a sender's scheme signs is all classified: a header `sign` makes, or the event
/// header beside it, is forwarded or is a signature header. A new scheme's headers thus
/// cannot slip into a run, or out of it, unnoticed.
#[test]
fn every_header_a_sender_sends_is_forwarded_or_a_signature() {
    let secret = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for config in VerifierConfig::examples() {
        let kind = config.kind();
        if has_options(&config) {
            continue;
        }
        let own: HashSet<&str> = names(kind, kind.forwarded_headers())
            .union(&names(kind, kind.signature_headers()))
            .copied()
            .collect();
        // A public-key scheme signs with its test pair's private key.
        let signing = kind
            .test_key_pair()
            .map_or(&secret[..], |(private, _)| private.as_bytes());
        let body = kind.test_body().unwrap_or(BODY);
        let mut sent = sign(&config, signing, body, URL, NOW, "msg_1").unwrap();
        if let EventName::Header { name, .. } = config.event_name() {
            sent.push((name.to_owned(), "push".to_owned()));
        }
        for (name, _) in &sent {
            let name = name.to_ascii_lowercase();
            assert!(own.contains(name.as_str()), "{kind:?} sends {name}");
        }
        let signatures = kind.signature_headers();
        let signed = sent
            .iter()
            .any(|(name, _)| signatures.contains(&name.to_ascii_lowercase().as_str()));
        // A sender that signs inside its body (SNS) has no signature header.
        let in_body = sign_body(&config, signing, body, NOW, "msg_1")
            .unwrap()
            .is_some();
        assert!(
            signed || in_body,
            "{kind:?} sends none of its signature headers"
        );
    }
}

#[test]
fn schemes_with_options_forward_the_event_and_dedup_headers_they_name() {
    for config in VerifierConfig::examples() {
        let named = config.configured_headers();
        match has_options(&config) {
            false => assert!(named.is_empty(), "{config:?}"),
            true => {
                let wire = serde_json::to_value(&config).unwrap();
                for field in ["event_header", "dedup_header"] {
                    if let Some(name) = wire[field].as_str() {
                        assert!(named.contains(&name), "{config:?}: {field}");
                    }
                }
            }
        }
    }
}

#[test]
fn generated_secrets_are_accepted_as_provided_and_sign_requests_that_verify() {
    let mut random = StdRng::seed_from_u64(7);
    for config in VerifierConfig::examples() {
        let kind = config.kind();
        // A public-key scheme's secret is made by the sender: hookgate refuses to make
        // one, and signs with the private key of a test pair instead.
        let (signing, secret) = match (kind.new_secret(&mut random), kind.test_key_pair()) {
            (Some(secret), None) => {
                assert_ne!(Some(&secret), kind.new_secret(&mut random).as_ref());
                (secret.clone(), secret)
            }
            (None, Some((private, public))) => (private.to_owned(), public.to_owned()),
            (made, pair) => panic!("{kind:?}: makes a secret {made:?} and has a key pair {pair:?}"),
        };
        assert_eq!(kind.check_secret(&secret), Ok(()), "{kind:?}");
        let unsigned = kind.test_body().unwrap_or(BODY);
        let headers = sign(&config, signing.as_bytes(), unsigned, URL, NOW, "msg_1").unwrap();
        let body = sign_body(&config, signing.as_bytes(), unsigned, NOW, "msg_1").unwrap();
        let body = body.as_deref().unwrap_or(unsigned);
        let map = header_map(&headers).unwrap();
        let candidate = SecretCandidate {
            id: "sec_1",
            value: secret.as_bytes(),
            prepared: None,
        };
        let certificate = kind.test_certificate();
        let verified = verify_with_certificate(
            &config,
            &[candidate],
            &map,
            body,
            URL,
            certificate.as_ref(),
            NOW,
        );
        assert!(verified.is_ok(), "{config:?}: {verified:?}");
    }
}

/// A run's message names its verifier (`trigger.verifier`, SPEC §4), and the published
/// schema of that message lists the names: a new kind is added there too.
#[test]
fn the_run_message_schema_lists_every_kind() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run-requested.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let listed = &schema["properties"]["trigger"]["properties"]["verifier"]["enum"];
    let names: Vec<&str> = VerifierKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(*listed, serde_json::json!(names));
}
