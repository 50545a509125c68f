use super::{header_map, URL};
use crate::verify::fuzz_logic::NOW;
use crate::verify::{
    sign, standard_webhooks_signature, standard_webhooks_signature_with, verify, BearerConfig,
    HmacConfig, PreparedSecret, SecretCandidate, SignError, SigningKey, VerifierConfig,
};

const WHSEC: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn owned(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers.to_vec()
}

#[test]
fn signed_requests_verify_for_every_scheme() {
    let hmac: HmacConfig = serde_json::from_str(
        r#"{"header":"X-Sig","prefix":"v1=","encoding":"base64","signed_content":"{timestamp}:{body}","timestamp_header":"X-Ts","dedup_header":"X-Id"}"#,
    )
    .unwrap();
    let configs = [
        VerifierConfig::Github,
        VerifierConfig::Stripe,
        VerifierConfig::StandardWebhooks,
        VerifierConfig::Shopify,
        VerifierConfig::Slack,
        VerifierConfig::Hmac(hmac),
        VerifierConfig::Bearer(BearerConfig::default()),
        VerifierConfig::Bearer(BearerConfig {
            header: "X-Token".to_owned(),
            dedup_header: Some("X-Id".to_owned()),
            event_header: None,
        }),
    ];
    let body = br#"{"id":"evt_1","type":"x.y"}"#;
    for config in configs {
        let headers = sign(&config, WHSEC, body, URL, NOW, "msg_1").unwrap();
        let map = header_map(&owned(&headers)).unwrap();
        let secrets = [
            SecretCandidate {
                id: "old",
                value: b"whsec_dGVzdA==",
                prepared: None,
            },
            SecretCandidate {
                id: "cur",
                value: WHSEC,
                prepared: None,
            },
        ];
        let verified = verify(&config, &secrets, &map, body, URL, NOW)
            .unwrap_or_else(|e| panic!("{:?}: {e}", config.kind()));
        assert_eq!(verified.secret_id(), "cur");
        let dedup = verified.dedup_key();
        assert!(
            dedup == Some("msg_1") || dedup == Some("evt_1") || dedup.is_none(),
            "{dedup:?}"
        );
    }
}

#[test]
fn signs_published_vectors_exactly() {
    let gh = sign(
        &VerifierConfig::Github,
        b"It's a Secret to Everybody",
        b"Hello, World!",
        URL,
        0,
        "d",
    )
    .unwrap();
    assert!(gh.contains(&(
        "X-Hub-Signature-256".to_owned(),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_owned()
    )));
    let sw = standard_webhooks_signature(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
        &[WHSEC],
    )
    .unwrap();
    assert_eq!(sw, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    let slack = sign(
        &VerifierConfig::Slack,
        b"8f742231b10e8888abcd99yyyzzz85a5",
        b"token=x",
        URL,
        1_531_420_618,
        "m",
    )
    .unwrap();
    assert_eq!(
        slack[0],
        (
            "X-Slack-Request-Timestamp".to_owned(),
            "1531420618".to_owned()
        )
    );
}

#[test]
fn standard_webhooks_signature_carries_one_entry_per_secret() {
    let second: &[u8] = b"whsec_dGVzdA==";
    let value = standard_webhooks_signature("msg_1", NOW, b"{}", &[WHSEC, second]).unwrap();
    assert_eq!(value.split(' ').filter(|e| e.starts_with("v1,")).count(), 2);
    for (id, secret) in [("a", WHSEC), ("b", second)] {
        let headers = vec![
            ("webhook-id".to_owned(), "msg_1".to_owned()),
            ("webhook-timestamp".to_owned(), NOW.to_string()),
            ("webhook-signature".to_owned(), value.clone()),
        ];
        let map = header_map(&headers).unwrap();
        let verified = verify(
            &VerifierConfig::StandardWebhooks,
            &[SecretCandidate {
                id,
                value: secret,
                prepared: None,
            }],
            &map,
            b"{}",
            URL,
            NOW,
        )
        .unwrap();
        assert_eq!(verified.secret_id(), id);
    }
}

#[test]
fn refuses_to_sign_what_would_not_verify() {
    assert_eq!(
        standard_webhooks_signature("m", NOW, b"", &[]),
        Err(SignError::NoSecret)
    );
    assert_eq!(
        standard_webhooks_signature("m", NOW, b"", &[b"whsec_***"]),
        Err(SignError::InvalidSecret)
    );
    assert_eq!(
        sign(
            &VerifierConfig::StandardWebhooks,
            b"whsec_",
            b"",
            URL,
            NOW,
            "m"
        ),
        Err(SignError::InvalidSecret)
    );
    assert_eq!(
        sign(&VerifierConfig::Github, b"k", b"", URL, NOW, "line\nbreak"),
        Err(SignError::InvalidHeaderValue("X-GitHub-Delivery"))
    );
    assert_eq!(
        sign(&VerifierConfig::Github, b"k", b"", URL, NOW, ""),
        Err(SignError::InvalidHeaderValue("X-GitHub-Delivery"))
    );
    let bearer = VerifierConfig::Bearer(BearerConfig::default());
    assert_eq!(
        sign(&bearer, b"two words", b"", URL, NOW, "m"),
        Err(SignError::InvalidSecret)
    );
    assert_eq!(
        sign(&bearer, b"\xff", b"", URL, NOW, "m"),
        Err(SignError::InvalidSecret)
    );
    let bad: HmacConfig =
        serde_json::from_str(r#"{"header":"X-Sig","signed_content":"{ts}.{body}"}"#).unwrap();
    assert!(
        matches!(sign(&VerifierConfig::Hmac(bad), b"k", b"", URL, NOW, "m"), Err(SignError::InvalidConfig(e)) if e.field() == "signed_content")
    );
}

#[test]
fn secret_candidate_debug_redacts_the_value_and_its_preparation() {
    let prepared = PreparedSecret::new(&VerifierConfig::StandardWebhooks, WHSEC);
    let shown = format!(
        "{:?}",
        SecretCandidate {
            id: "s1",
            value: WHSEC,
            prepared: Some(&prepared),
        }
    );
    assert!(shown.contains("s1") && !shown.contains("MfKQ"), "{shown}");
    assert_eq!(format!("{prepared:?}"), "PreparedSecret(<redacted>)");
}

#[test]
fn signing_key_signs_as_the_secret_does_and_is_never_printed() {
    let second: &[u8] = b"whsec_dGVzdA==";
    let keys = [
        SigningKey::new(WHSEC).unwrap(),
        SigningKey::new(second).unwrap(),
    ];
    assert_eq!(
        standard_webhooks_signature_with("msg_1", NOW, b"{}", &keys),
        standard_webhooks_signature("msg_1", NOW, b"{}", &[WHSEC, second])
    );
    assert_eq!(format!("{:?}", keys[0]), "SigningKey(<redacted>)");
    for unusable in [&b"whsec_***"[..], b"whsec_", b""] {
        assert_eq!(
            SigningKey::new(unusable).map(|_| ()),
            Err(SignError::InvalidSecret)
        );
    }
}
