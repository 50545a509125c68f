use super::{accept, case, check, reject, Case, Expect};
use crate::verify::VerifierConfig;

// Signed with `cryptography`'s ECDSA and accepted by sendgrid 6.12.5's EventWebhook
// (tests/vectors/sendgrid.json, "valid").
const PUBLIC: &[u8] = b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvXxzuIsum0ztpiAistqL4TGTpbVu3Cbn33hC4kzQtesGBa2nvag6xqK4DX4xQED6R/8WuDushc7bAURRu3znGg==";
const BODY: &[u8] = b"[{\"email\":\"example@test.com\",\"event\":\"processed\",\"sg_event_id\":\"rbtnWrG1DVDGGGFHFyun0A==\",\"sg_message_id\":\"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000\",\"timestamp\":1600112492}]\r\n";
const SIG: &str = "MEUCIQCvw9NOU4+vw+a/yRFcT7dpURSOyq+I540KI5uxNfOXlAIgPAMayTUVyCc9J/l8pxTry5JNmmSGGv9heVeLHWTUS3s=";
const TS: &str = "1600112502";
const NOW: i64 = 1_700_000_000;
// Another P-256 key (the public key of `cryptography`'s scalar 0x2468…ace0).
const OTHER: &[u8] = b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDGYx8Girf2tgZj2HE/kBfckwvwtk2RpzbMno2TD7pDwLuzKMN6/91xZpOhOP1Y7iqTfaigttSo8UBPQaR0Zi+g==";

fn one(name: &'static str, sig: &str, ts: &str, body: &[u8], expect: Expect) -> Case {
    let headers = [
        ("X-Twilio-Email-Event-Webhook-Signature", sig),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
    ];
    case(name, &[("sg", PUBLIC)], &headers, body, NOW, expect)
}

#[test]
fn accepts_a_signature_the_sendgrid_library_accepts_at_any_age() {
    let headers = [
        ("X-Twilio-Email-Event-Webhook-Signature", SIG),
        ("X-Twilio-Email-Event-Webhook-Timestamp", TS),
    ];
    check(
        &VerifierConfig::Sendgrid(Default::default()),
        &[
            one("valid", SIG, TS, BODY, accept("sg").dedup(None).event(None)),
            case(
                "second key",
                &[("other", OTHER), ("sg", PUBLIC)],
                &headers,
                BODY,
                0,
                accept("sg"),
            ),
        ],
    );
}

#[test]
fn rejects_sendgrid_tampering_wrong_key_and_garbled_headers() {
    check(
        &VerifierConfig::Sendgrid(Default::default()),
        &[
            one(
                "tampered",
                SIG,
                TS,
                &BODY[..BODY.len() - 2],
                reject("signature_invalid"),
            ),
            one(
                "other timestamp",
                SIG,
                "1600112503",
                BODY,
                reject("signature_invalid"),
            ),
            case(
                "wrong key",
                &[("other", OTHER)],
                &[
                    ("X-Twilio-Email-Event-Webhook-Signature", SIG),
                    ("X-Twilio-Email-Event-Webhook-Timestamp", TS),
                ],
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "not a key",
                &[("x", b"bm90IGEga2V5")],
                &[
                    ("X-Twilio-Email-Event-Webhook-Signature", SIG),
                    ("X-Twilio-Email-Event-Webhook-Timestamp", TS),
                ],
                BODY,
                NOW,
                reject("secret_unusable"),
            ),
            one(
                "unpadded",
                SIG.trim_end_matches('='),
                TS,
                BODY,
                reject("signature_malformed"),
            ),
            one(
                "not der",
                "MAIBAA==",
                TS,
                BODY,
                reject("signature_malformed"),
            ),
            one(
                "raw r||s",
                &base64_raw(),
                TS,
                BODY,
                reject("signature_malformed"),
            ),
            case(
                "missing signature",
                &[("sg", PUBLIC)],
                &[("X-Twilio-Email-Event-Webhook-Timestamp", TS)],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "missing timestamp",
                &[("sg", PUBLIC)],
                &[("X-Twilio-Email-Event-Webhook-Signature", SIG)],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "twice",
                &[("sg", PUBLIC)],
                &[
                    ("X-Twilio-Email-Event-Webhook-Signature", SIG),
                    ("X-Twilio-Email-Event-Webhook-Signature", SIG),
                    ("X-Twilio-Email-Event-Webhook-Timestamp", TS),
                ],
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}

/// The same signature as 64 raw bytes (r then s), which is not what SendGrid sends.
fn base64_raw() -> String {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(SIG)
        .unwrap();
    let signature = p256::ecdsa::Signature::from_der(&der).unwrap();
    base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
}

#[test]
fn a_configured_tolerance_refuses_stale_and_future_timestamps_before_the_signature() {
    let config: VerifierConfig =
        serde_json::from_value(serde_json::json!({"type": "sendgrid", "tolerance_s": 300}))
            .unwrap();
    config.validate().unwrap();
    let signed_at = 1_600_112_502;
    let at = |name, now, sig: &str, ts: &str, expect| {
        let headers = [
            ("X-Twilio-Email-Event-Webhook-Signature", sig),
            ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
        ];
        case(name, &[("sg", PUBLIC)], &headers, BODY, now, expect)
    };
    check(
        &config,
        &[
            at("now", signed_at, SIG, TS, accept("sg")),
            at("300 s old", signed_at + 300, SIG, TS, accept("sg")),
            at(
                "301 s old",
                signed_at + 301,
                SIG,
                TS,
                reject("timestamp_out_of_tolerance"),
            ),
            at("300 s ahead", signed_at - 300, SIG, TS, accept("sg")),
            at(
                "301 s ahead",
                signed_at - 301,
                SIG,
                TS,
                reject("timestamp_out_of_tolerance"),
            ),
            // The window is checked first: a stale forgery is refused for its age.
            at(
                "stale forgery",
                NOW,
                "MAIBAA==",
                TS,
                reject("timestamp_out_of_tolerance"),
            ),
            at(
                "word timestamp",
                signed_at,
                SIG,
                "soon",
                reject("signature_malformed"),
            ),
        ],
    );
}

#[test]
fn tolerance_must_be_a_day_at_most_and_nothing_else_is_an_option() {
    let parse = |json| serde_json::from_value::<VerifierConfig>(json);
    for bad in [0, 86_401] {
        let config = parse(serde_json::json!({"type": "sendgrid", "tolerance_s": bad})).unwrap();
        assert_eq!(
            config.validate().unwrap_err().field(),
            "tolerance_s",
            "{bad}"
        );
    }
    let day = parse(serde_json::json!({"type": "sendgrid", "tolerance_s": 86_400})).unwrap();
    assert!(day.validate().is_ok());
    assert!(parse(serde_json::json!({"type": "sendgrid", "window": 5})).is_err());
    let plain = parse(serde_json::json!({"type": "sendgrid"})).unwrap();
    assert_eq!(
        serde_json::to_value(&plain).unwrap(),
        serde_json::json!({"type": "sendgrid"})
    );
}
