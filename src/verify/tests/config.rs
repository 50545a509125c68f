use crate::verify::{
    BearerConfig, HmacConfig, MacAlgorithm, MacEncoding, Rejection, VerifierConfig, VerifierKind,
};
use http::HeaderName;

fn parse(json: &str) -> Result<VerifierConfig, serde_json::Error> {
    serde_json::from_str(json)
}

#[test]
fn parses_every_verifier_shape_from_spec() {
    for (json, kind) in [
        (r#"{"type":"github"}"#, VerifierKind::Github),
        (r#"{"type":"stripe"}"#, VerifierKind::Stripe),
        (
            r#"{"type":"standard_webhooks"}"#,
            VerifierKind::StandardWebhooks,
        ),
        (r#"{"type":"shopify"}"#, VerifierKind::Shopify),
        (r#"{"type":"slack"}"#, VerifierKind::Slack),
        (r#"{"type":"bearer"}"#, VerifierKind::Bearer),
        (
            r#"{"type":"bearer","header":"Authorization"}"#,
            VerifierKind::Bearer,
        ),
        (
            r#"{"type":"hmac","header":"X-Signature"}"#,
            VerifierKind::Hmac,
        ),
    ] {
        let config = parse(json).unwrap();
        assert_eq!(config.kind(), kind, "{json}");
        assert_eq!(config.kind().as_str(), json.split('"').nth(3).unwrap());
        config.validate().unwrap();
        assert_eq!(
            parse(&serde_json::to_string(&config).unwrap()).unwrap(),
            config
        );
    }
}

#[test]
fn parses_full_hmac_example_with_defaults() {
    let full = parse(
        r#"{"type":"hmac","header":"X-Signature","prefix":"sha256=","encoding":"base64",
            "algorithm":"sha512","signed_content":"{timestamp}.{body}",
            "timestamp_header":"X-Timestamp","tolerance_s":120,"dedup_header":null,"event_header":"X-Event"}"#,
    )
    .unwrap();
    let VerifierConfig::Hmac(h) = &full else {
        panic!("not hmac")
    };
    assert_eq!(
        (h.encoding, h.algorithm, h.tolerance().as_secs()),
        (MacEncoding::Base64, MacAlgorithm::Sha512, 120)
    );
    full.validate().unwrap();
    let VerifierConfig::Hmac(d) = parse(r#"{"type":"hmac","header":"X-Sig"}"#).unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            d.prefix,
            d.encoding,
            d.algorithm,
            d.signed_content.as_str(),
            d.tolerance_s
        ),
        (None, MacEncoding::Hex, MacAlgorithm::Sha256, "{body}", 300)
    );
    assert_eq!(BearerConfig::default().header, "Authorization");
}

#[test]
fn rejects_unknown_fields_and_types() {
    for json in [
        r#"{"type":"github","secret":"x"}"#,
        r#"{"type":"stripe","tolerance_s":10}"#,
        r#"{"type":"hmac","header":"X-Sig","tolerence_s":10}"#,
        r#"{"type":"bearer","headr":"X-Token"}"#,
        r#"{"type":"hmac","header":"X-Sig","encoding":"hexadecimal"}"#,
        r#"{"type":"hmac","header":"X-Sig","algorithm":"sha1"}"#,
        r#"{"type":"hmac"}"#,
        r#"{"type":"sha1"}"#,
        r#"{"header":"X-Sig"}"#,
    ] {
        assert!(parse(json).is_err(), "accepted {json}");
    }
}

fn hmac(edit: impl FnOnce(&mut HmacConfig)) -> VerifierConfig {
    let mut c: HmacConfig = serde_json::from_str(r#"{"header":"X-Signature"}"#).unwrap();
    edit(&mut c);
    VerifierConfig::Hmac(c)
}

#[test]
fn validate_names_the_offending_field() {
    let ts = |c: &mut HmacConfig| {
        c.signed_content = "{timestamp}.{body}".to_owned();
        c.timestamp_header = Some("X-Timestamp".to_owned());
    };
    let cases: Vec<(&str, VerifierConfig)> = vec![
        ("header", hmac(|c| c.header = "X Signature".to_owned())),
        ("header", hmac(|c| c.header = String::new())),
        ("prefix", hmac(|c| c.prefix = Some(" sha256=".to_owned()))),
        ("prefix", hmac(|c| c.prefix = Some("sh\u{e4}=".to_owned()))),
        (
            "signed_content",
            hmac(|c| c.signed_content = "{id}.{body}".to_owned()),
        ),
        (
            "signed_content",
            hmac(|c| c.signed_content = "{body}{body}".to_owned()),
        ),
        (
            "signed_content",
            hmac(|c| c.signed_content = "static".to_owned()),
        ),
        (
            "signed_content",
            hmac(|c| c.timestamp_header = Some("X-Timestamp".to_owned())),
        ),
        (
            "timestamp_header",
            hmac(|c| c.signed_content = "{timestamp}.{body}".to_owned()),
        ),
        (
            "timestamp_header",
            hmac(|c| {
                ts(c);
                c.timestamp_header = Some("x-signature".to_owned())
            }),
        ),
        (
            "tolerance_s",
            hmac(|c| {
                ts(c);
                c.tolerance_s = 0
            }),
        ),
        (
            "tolerance_s",
            hmac(|c| {
                ts(c);
                c.tolerance_s = 86_401
            }),
        ),
        (
            "dedup_header",
            hmac(|c| c.dedup_header = Some("a:b".to_owned())),
        ),
        (
            "event_header",
            hmac(|c| c.event_header = Some(String::new())),
        ),
        (
            "header",
            VerifierConfig::Bearer(BearerConfig {
                header: "Auth orization".to_owned(),
                ..BearerConfig::default()
            }),
        ),
        (
            "dedup_header",
            VerifierConfig::Bearer(BearerConfig {
                dedup_header: Some("\n".to_owned()),
                ..BearerConfig::default()
            }),
        ),
        (
            "event_header",
            VerifierConfig::Bearer(BearerConfig {
                event_header: Some("authorization".to_owned()),
                ..BearerConfig::default()
            }),
        ),
        (
            "dedup_header",
            VerifierConfig::Bearer(BearerConfig {
                header: "X-Token".to_owned(),
                dedup_header: Some("x-token".to_owned()),
                ..BearerConfig::default()
            }),
        ),
    ];
    for (field, config) in cases {
        let err = config.validate().expect_err(field);
        assert_eq!(err.field(), field, "{config:?}: {err}");
        assert!(err.to_string().contains(field));
    }
    hmac(|c| {
        ts(c);
        c.signed_content = "v0:{timestamp}:{body}".to_owned()
    })
    .validate()
    .unwrap();
}

#[test]
fn rejection_codes_are_stable_snake_case_and_unique() {
    let name = HeaderName::from_static("x-test");
    let all = [
        Rejection::MissingHeader(name.clone()),
        Rejection::MalformedHeader(name.clone()),
        Rejection::DuplicateHeader(name.clone()),
        Rejection::UnsupportedVersion(name),
        Rejection::SignatureMismatch,
        Rejection::TokenMismatch,
        Rejection::TimestampOutOfTolerance {
            age_s: 400,
            tolerance_s: 300,
        },
        Rejection::LegacySignatureOnly,
        Rejection::EmptyBody,
        Rejection::NoActiveSecret,
        Rejection::UnusableSecrets,
        Rejection::InvalidConfig(hmac(|c| c.header = String::new()).validate().unwrap_err()),
    ];
    let mut codes: Vec<&str> = all.iter().map(Rejection::code).collect();
    assert!(codes
        .iter()
        .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    assert_eq!(
        &codes[4..7],
        [
            "signature_invalid",
            "token_invalid",
            "timestamp_out_of_tolerance"
        ]
    );
    let operator: Vec<bool> = all.iter().map(|r| !r.is_sender_fault()).collect();
    assert_eq!(operator.iter().filter(|o| **o).count(), 3);
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
}
