use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

// go-pagerduty's own vector (webhookv3/webhookv3_test.go: `secret`, `defaultBody`, the
// "valid" and "mismatch" signatures).
const SECRET: &[u8] = b"lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK";
const BODY: &str = include_str!("pagerduty_body.json");
const VALID: &str = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd";
const MISMATCH: &str = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5";
const NOW: i64 = 1_700_000_000;

fn body() -> &'static [u8] {
    BODY.trim_end().as_bytes()
}

fn one(name: &'static str, value: &str, expect: Expect) -> Case {
    let headers = [("X-PagerDuty-Signature", value), ("X-Webhook-Id", "w1")];
    case(name, &[("pd", SECRET)], &headers, body(), NOW, expect)
}

#[test]
fn accepts_go_pagerdutys_vector_with_the_event_id_and_type() {
    assert_eq!(
        format!("v1={}", hex::encode(hmac256(SECRET, &[body()]))),
        VALID
    );
    check(
        &VerifierConfig::Pagerduty,
        &[
            one(
                "published valid",
                VALID,
                accept("pd")
                    .dedup(Some("01BWDWL3NYY7LUFPZCC28QUCMK"))
                    .event(Some("incident.priority_updated"))
                    .handshake(None),
            ),
            one("published mismatch", MISMATCH, reject("signature_invalid")),
        ],
    );
}

#[test]
fn accepts_any_v1_pagerduty_entry_as_go_pagerduty_reads_them() {
    let hex = &VALID[3..];
    let upper = format!("v1={}", hex.to_ascii_uppercase());
    check(
        &VerifierConfig::Pagerduty,
        &[
            one(
                "bad then good",
                &format!("{MISMATCH},{VALID}"),
                accept("pd"),
            ),
            one(
                "good then bad",
                &format!("{VALID},{MISMATCH}"),
                accept("pd"),
            ),
            // Go's hex.DecodeString reads either case.
            one("upper-case hex", &upper, accept("pd")),
            one(
                "other versions skipped",
                &format!("v2={hex},{VALID}"),
                accept("pd"),
            ),
            one(
                "junk entry skipped",
                &format!("v1=zz,{VALID}"),
                accept("pd"),
            ),
            one(
                "odd-length entry skipped",
                &format!("v1=abc,{VALID}"),
                accept("pd"),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("X-PagerDuty-Signature", VALID)],
                body(),
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_pagerduty_headers_without_a_v1_entry_and_empty_bodies() {
    let hex = &VALID[3..];
    check(
        &VerifierConfig::Pagerduty,
        &[
            // Nothing is trimmed: " v1=" does not start with "v1=".
            one(
                "space after comma",
                &format!("{MISMATCH}, {VALID}"),
                reject("signature_invalid"),
            ),
            one(
                "upper-case version",
                &format!("V1={hex}"),
                reject("signature_malformed"),
            ),
            one(
                "only another version",
                &format!("v0={hex}"),
                reject("signature_malformed"),
            ),
            one("only junk", "v1=not-hex", reject("signature_malformed")),
            one("short digest", "v1=00ff", reject("signature_invalid")),
            one("empty v1", "v1=", reject("signature_invalid")),
            case(
                "missing",
                &[("pd", SECRET)],
                &[("X-Webhook-Id", "w1")],
                body(),
                NOW,
                reject("signature_missing"),
            ),
            case(
                "empty body",
                &[("pd", SECRET)],
                &[("X-PagerDuty-Signature", VALID)],
                b"",
                NOW,
                reject("body_missing"),
            ),
            case(
                "tampered",
                &[("pd", SECRET)],
                &[("X-PagerDuty-Signature", VALID)],
                b"{}",
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "twice",
                &[("pd", SECRET)],
                &[
                    ("X-PagerDuty-Signature", VALID),
                    ("X-PagerDuty-Signature", VALID),
                ],
                body(),
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
