use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::{Handshake, VerifierConfig};

// Slack's documented example, as used in python-slack-sdk
// tests/slack_sdk/signature/test_signature_verifier.py.
const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const TS: i64 = 1_531_420_618;
const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn sig(ts: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(hmac256(SECRET, &[b"v0:", ts.as_bytes(), b":", body]))
    )
}

fn signed(name: &'static str, ts: &str, sig: &str, body: &[u8], now: i64, expect: Expect) -> Case {
    let headers = [
        ("X-Slack-Request-Timestamp", ts),
        ("X-Slack-Signature", sig),
    ];
    case(name, &[("sl", SECRET)], &headers, body, now, expect)
}

fn one(name: &'static str, sig: &str, expect: Expect) -> Case {
    signed(name, "1531420618", sig, BODY, TS, expect)
}

#[test]
fn accepts_slacks_documented_example_without_body_fields() {
    assert_eq!(sig("1531420618", BODY), SIG);
    check(
        &VerifierConfig::Slack,
        &[one(
            "documented",
            SIG,
            accept("sl").dedup(None).event(None).handshake(None),
        )],
    );
}

#[test]
fn rejects_slack_timestamps_outside_300_s_either_way() {
    let ts = "1531420618";
    check(
        &VerifierConfig::Slack,
        &[
            signed("300 s old", ts, SIG, BODY, TS + 300, accept("sl")),
            signed(
                "301 s old",
                ts,
                SIG,
                BODY,
                TS + 301,
                reject("timestamp_out_of_tolerance"),
            ),
            signed("300 s ahead", ts, SIG, BODY, TS - 300, accept("sl")),
            signed(
                "301 s ahead",
                ts,
                SIG,
                BODY,
                TS - 301,
                reject("timestamp_out_of_tolerance"),
            ),
            // slack_sdk checks the window before the signature.
            signed(
                "stale and forged",
                ts,
                "v0=00",
                BODY,
                TS + 301,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
}

#[test]
fn rejects_slack_tampered_body_wrong_secret_and_other_spellings() {
    let hex = &SIG[3..];
    check(
        &VerifierConfig::Slack,
        &[
            signed(
                "tampered",
                "1531420618",
                SIG,
                b"token=other",
                TS,
                reject("signature_invalid"),
            ),
            case(
                "wrong secret",
                &[("sl", b"8f742231b10e8888abcd99yyyzzz85a6")],
                &[
                    ("X-Slack-Request-Timestamp", "1531420618"),
                    ("X-Slack-Signature", SIG),
                ],
                BODY,
                TS,
                reject("signature_invalid"),
            ),
            case(
                "rotated second",
                &[("old", b"x"), ("new", SECRET)],
                &[
                    ("X-Slack-Request-Timestamp", "1531420618"),
                    ("X-Slack-Signature", SIG),
                ],
                BODY,
                TS,
                accept("new"),
            ),
            // slack_sdk compares the whole `v0=<hex>` string.
            one(
                "upper-case hex",
                &format!("v0={}", hex.to_uppercase()),
                reject("signature_invalid"),
            ),
            one(
                "upper-case version",
                &format!("V0={hex}"),
                reject("signature_invalid"),
            ),
            one(
                "other version",
                &format!("v1={hex}"),
                reject("signature_invalid"),
            ),
            one("bare hex", hex, reject("signature_invalid")),
            one(
                "two signatures in one line",
                &format!("{SIG},{SIG}"),
                reject("signature_invalid"),
            ),
            one("surrounding whitespace", &format!(" {SIG} "), accept("sl")),
        ],
    );
}

#[test]
fn rejects_garbled_missing_and_duplicate_slack_headers() {
    let s = [("sl", SECRET)];
    let m = "signature_malformed";
    check(
        &VerifierConfig::Slack,
        &[
            case(
                "no timestamp",
                &s,
                &[("X-Slack-Signature", SIG)],
                BODY,
                TS,
                reject("signature_missing"),
            ),
            case(
                "no signature",
                &s,
                &[("X-Slack-Request-Timestamp", "1531420618")],
                BODY,
                TS,
                reject("signature_missing"),
            ),
            signed("word timestamp", "soon", SIG, BODY, TS, reject(m)),
            signed(
                "fractional timestamp",
                "1531420618.0",
                SIG,
                BODY,
                TS,
                reject(m),
            ),
            signed("signed timestamp", "+1531420618", SIG, BODY, TS, reject(m)),
            case(
                "two signatures",
                &s,
                &[
                    ("X-Slack-Request-Timestamp", "1531420618"),
                    ("X-Slack-Signature", SIG),
                    ("X-Slack-Signature", SIG),
                ],
                BODY,
                TS,
                reject("header_duplicated"),
            ),
            case(
                "two timestamps",
                &s,
                &[
                    ("X-Slack-Request-Timestamp", "1531420618"),
                    ("X-Slack-Request-Timestamp", "1531420619"),
                    ("X-Slack-Signature", SIG),
                ],
                BODY,
                TS,
                reject("header_duplicated"),
            ),
        ],
    );
}

#[test]
fn reads_slack_json_bodies_for_dedup_event_and_url_verification() {
    let ts = "1531420618";
    let verification = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let callback = br#"{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention","text":"hi"}}"#;
    let typed = br#"{"type":"block_actions"}"#;
    let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned();
    check(
        &VerifierConfig::Slack,
        &[
            signed(
                "url_verification",
                ts,
                &sig(ts, verification),
                verification,
                TS,
                accept("sl")
                    .event(Some("url_verification"))
                    .handshake(Some(Handshake::SlackUrlVerification { challenge })),
            ),
            signed(
                "event_callback",
                ts,
                &sig(ts, callback),
                callback,
                TS,
                accept("sl")
                    .dedup(Some("Ev0PV52K21"))
                    .event(Some("app_mention"))
                    .handshake(None),
            ),
            signed(
                "type only",
                ts,
                &sig(ts, typed),
                typed,
                TS,
                accept("sl").dedup(None).event(Some("block_actions")),
            ),
            signed(
                "forged url_verification",
                ts,
                SIG,
                verification,
                TS,
                reject("signature_invalid"),
            ),
        ],
    );
}
