use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::{LinearConfig, VerifierConfig};

const SECRET: &[u8] = b"lin_wh_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c";
const NOW: i64 = 1_700_000_000;

fn body(timestamp: &str) -> Vec<u8> {
    format!(
        r#"{{"action":"create","type":"Issue","createdAt":"2023-11-14T22:13:20.000Z","data":{{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Bug"}},"url":"https://linear.app/issue/LIN-1","organizationId":"b0e5","webhookTimestamp":{timestamp},"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}}"#
    )
    .into_bytes()
}

fn sig(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac256(secret, &[body]))
}

fn signed(name: &'static str, body: Vec<u8>, now: i64, expect: Expect) -> Case {
    let value = sig(SECRET, &body);
    let headers = [
        ("Linear-Signature", value.as_str()),
        ("Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72"),
        ("Linear-Event", "Issue"),
    ];
    case(name, &[("ln", SECRET)], &headers, &body, now, expect)
}

fn with(name: &'static str, value: &str, body: &[u8], expect: Expect) -> Case {
    case(
        name,
        &[("ln", SECRET)],
        &[("Linear-Signature", value)],
        body,
        NOW,
        expect,
    )
}

#[test]
fn accepts_linears_signature_with_the_delivery_and_type() {
    let ms = "1700000000000";
    check(
        &VerifierConfig::Linear(LinearConfig::default()),
        &[
            signed(
                "valid",
                body(ms),
                NOW,
                accept("ln")
                    .dedup(Some("234d1a4e-b617-4388-90fe-adc3633d6b72"))
                    .event(Some("Issue"))
                    .handshake(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("Linear-Signature", &sig(SECRET, &body(ms)))],
                &body(ms),
                NOW,
                accept("new").dedup(None),
            ),
        ],
    );
}

#[test]
fn rejects_linear_timestamps_more_than_60_s_away() {
    check(
        &VerifierConfig::Linear(LinearConfig::default()),
        &[
            signed("60 s old", body("1699999940000"), NOW, accept("ln")),
            signed(
                "60.001 s old",
                body("1699999939999"),
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            signed("60 s ahead", body("1700000060000"), NOW, accept("ln")),
            signed(
                "60.001 s ahead",
                body("1700000060001"),
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            signed(
                "seconds, not milliseconds",
                body("1700000000"),
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            signed(
                "string timestamp",
                body(r#""1700000000000""#),
                NOW,
                reject("signature_missing"),
            ),
            signed(
                "fractional timestamp",
                body("1700000000000.5"),
                NOW,
                reject("signature_missing"),
            ),
            signed(
                "null timestamp",
                body("null"),
                NOW,
                reject("signature_missing"),
            ),
            signed(
                "beyond i64",
                body("18446744073709551615"),
                NOW,
                reject("signature_malformed"),
            ),
        ],
    );
}

#[test]
fn linear_window_follows_the_sources_tolerance_s() {
    let wide = VerifierConfig::Linear(LinearConfig { tolerance_s: 300 });
    check(
        &wide,
        &[
            signed("300 s old", body("1699999700000"), NOW, accept("ln")),
            signed(
                "300.001 s old",
                body("1699999699999"),
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            signed("300 s ahead", body("1700000300000"), NOW, accept("ln")),
        ],
    );
    for (tolerance_s, ok) in [(0, false), (1, true), (86_400, true), (86_401, false)] {
        let config = VerifierConfig::Linear(LinearConfig { tolerance_s });
        assert_eq!(config.validate().is_ok(), ok, "{tolerance_s}");
    }
    let wire: VerifierConfig = serde_json::from_str(r#"{"type":"linear"}"#).unwrap();
    assert_eq!(wire, VerifierConfig::Linear(LinearConfig::default()));
}

#[test]
fn rejects_linear_tampering_and_other_spellings() {
    let ms = body("1700000000000");
    let good = sig(SECRET, &ms);
    let no_ts = br#"{"action":"create","type":"Issue"}"#;
    check(
        &VerifierConfig::Linear(LinearConfig::default()),
        &[
            with(
                "tampered",
                &good,
                &body("1700000000001"),
                reject("signature_invalid"),
            ),
            with(
                "wrong secret",
                &sig(b"other", &ms),
                &ms,
                reject("signature_invalid"),
            ),
            with(
                "upper-case hex",
                &good.to_ascii_uppercase(),
                &ms,
                reject("signature_invalid"),
            ),
            with(
                "sha256 prefix",
                &format!("sha256={good}"),
                &ms,
                reject("signature_invalid"),
            ),
            with(
                "no timestamp",
                &sig(SECRET, no_ts),
                no_ts,
                reject("signature_missing"),
            ),
            with(
                "not json",
                &sig(SECRET, b"plain"),
                b"plain",
                reject("signature_missing"),
            ),
            case(
                "missing",
                &[("ln", SECRET)],
                &[],
                &ms,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "twice",
                &[("ln", SECRET)],
                &[("Linear-Signature", &good), ("Linear-Signature", &good)],
                &ms,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
