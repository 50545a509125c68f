use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::{VerifierConfig, ZendeskConfig};

const SECRET: &[u8] = b"dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
const TS: &str = "2021-03-25T05:09:27Z";
const NOW: i64 = 1_616_648_967;
const BODY: &[u8] = br#"{"type":"zen:event-type:ticket.created","account_id":123456,"id":"01HBZ8Q7K3N5XJ2W8Y6T4V1R0S","detail":{"id":"35436"}}"#;

fn sig(secret: &[u8], ts: &str, body: &[u8]) -> String {
    b64(&hmac256(secret, &[ts.as_bytes(), body]))
}

fn zendesk() -> VerifierConfig {
    VerifierConfig::Zendesk(ZendeskConfig::default())
}

fn at(name: &'static str, ts: &str, value: &str, now: i64, expect: Expect) -> Case {
    let headers = [
        ("X-Zendesk-Webhook-Signature", value),
        ("X-Zendesk-Webhook-Signature-Timestamp", ts),
        ("X-Zendesk-Webhook-Invocation-Id", "8350205582"),
        ("X-Zendesk-Webhook-Id", "01F1KRFQ6BG29CNWFR60NK5FNY"),
    ];
    case(name, &[("zd", SECRET)], &headers, BODY, now, expect)
}

#[test]
fn accepts_zendesks_signature_with_the_invocation_and_event_type() {
    check(
        &zendesk(),
        &[
            at(
                "valid",
                TS,
                &sig(SECRET, TS, BODY),
                NOW,
                accept("zd")
                    .dedup(Some("8350205582"))
                    .event(Some("zen:event-type:ticket.created"))
                    .handshake(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[
                    ("X-Zendesk-Webhook-Signature", &sig(SECRET, TS, BODY)),
                    ("X-Zendesk-Webhook-Signature-Timestamp", TS),
                ],
                BODY,
                NOW,
                accept("new").dedup(None),
            ),
        ],
    );
}

#[test]
fn rejects_zendesk_timestamps_outside_the_configured_window() {
    let good = sig(SECRET, TS, BODY);
    let narrow = VerifierConfig::Zendesk(ZendeskConfig { tolerance_s: 60 });
    check(
        &zendesk(),
        &[
            at("300 s old", TS, &good, NOW + 300, accept("zd")),
            at(
                "301 s old",
                TS,
                &good,
                NOW + 301,
                reject("timestamp_out_of_tolerance"),
            ),
            at("300 s ahead", TS, &good, NOW - 300, accept("zd")),
            at(
                "301 s ahead",
                TS,
                &good,
                NOW - 301,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
    check(
        &narrow,
        &[
            at("60 s old", TS, &good, NOW + 60, accept("zd")),
            at(
                "61 s old",
                TS,
                &good,
                NOW + 61,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
}

#[test]
fn rejects_zendesk_tampering_and_other_spellings() {
    let good = sig(SECRET, TS, BODY);
    let unix = NOW.to_string();
    check(
        &zendesk(),
        &[
            at(
                "wrong secret",
                TS,
                &sig(b"other", TS, BODY),
                NOW,
                reject("signature_invalid"),
            ),
            at(
                "unpadded",
                TS,
                &good[..good.len() - 1],
                NOW,
                reject("signature_invalid"),
            ),
            at(
                "hex digest",
                TS,
                &hex::encode(hmac256(SECRET, &[TS.as_bytes(), BODY])),
                NOW,
                reject("signature_invalid"),
            ),
            at(
                "unix timestamp",
                &unix,
                &sig(SECRET, &unix, BODY),
                NOW,
                reject("signature_malformed"),
            ),
            at(
                "offset timestamp",
                "2021-03-25T05:09:27+00:00",
                &good,
                NOW,
                reject("signature_malformed"),
            ),
            case(
                "tampered",
                &[("zd", SECRET)],
                &[
                    ("X-Zendesk-Webhook-Signature", &good),
                    ("X-Zendesk-Webhook-Signature-Timestamp", TS),
                ],
                b"{}",
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "missing timestamp",
                &[("zd", SECRET)],
                &[("X-Zendesk-Webhook-Signature", &good)],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "missing signature",
                &[("zd", SECRET)],
                &[("X-Zendesk-Webhook-Signature-Timestamp", TS)],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "timestamp twice",
                &[("zd", SECRET)],
                &[
                    ("X-Zendesk-Webhook-Signature", &good),
                    ("X-Zendesk-Webhook-Signature-Timestamp", TS),
                    ("X-Zendesk-Webhook-Signature-Timestamp", TS),
                ],
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
