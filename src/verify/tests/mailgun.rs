use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::{sign, sign_body, MailgunConfig, SignError, VerifierConfig};

const KEY: &[u8] = b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
const TS: i64 = 1_529_006_854;
const TOKEN: &str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";

fn sig(key: &[u8], ts: &str, token: &str) -> String {
    hex::encode(hmac256(key, &[ts.as_bytes(), token.as_bytes()]))
}

fn body(ts: &str, token: &str, signature: &str) -> Vec<u8> {
    format!(
        r#"{{"signature":{{"timestamp":"{ts}","token":"{token}","signature":"{signature}"}},"event-data":{{"event":"delivered","timestamp":1529006854.329574,"id":"CPgfbmQMTCKtHW6uIWtuVe","recipient":"alice@example.com"}}}}"#
    )
    .into_bytes()
}

fn good() -> Vec<u8> {
    let ts = TS.to_string();
    body(&ts, TOKEN, &sig(KEY, &ts, TOKEN))
}

fn mailgun() -> VerifierConfig {
    VerifierConfig::Mailgun(MailgunConfig::default())
}

fn at(name: &'static str, body: &[u8], now: i64, expect: Expect) -> Case {
    case(name, &[("mg", KEY)], &[], body, now, expect)
}

#[test]
fn accepts_mailguns_body_signature_with_the_event_id_and_name() {
    check(
        &mailgun(),
        &[
            at(
                "valid",
                &good(),
                TS,
                accept("mg")
                    .dedup(Some("CPgfbmQMTCKtHW6uIWtuVe"))
                    .event(Some("delivered"))
                    .handshake(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"key-old"), ("new", KEY)],
                &[],
                &good(),
                TS,
                accept("new"),
            ),
            at(
                "signature last, event first",
                format!(
                    r#"{{"event-data":{{"id":"x","event":"opened"}},"signature":{{"signature":"{}","token":"{TOKEN}","timestamp":"{TS}"}}}}"#,
                    sig(KEY, &TS.to_string(), TOKEN)
                )
                .as_bytes(),
                TS,
                accept("mg").dedup(Some("x")).event(Some("opened")),
            ),
        ],
    );
}

#[test]
fn rejects_mailgun_timestamps_outside_the_configured_window() {
    let narrow = VerifierConfig::Mailgun(MailgunConfig { tolerance_s: 60 });
    check(
        &mailgun(),
        &[
            at("300 s old", &good(), TS + 300, accept("mg")),
            at(
                "301 s old",
                &good(),
                TS + 301,
                reject("timestamp_out_of_tolerance"),
            ),
            at("300 s ahead", &good(), TS - 300, accept("mg")),
            at(
                "301 s ahead",
                &good(),
                TS - 301,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
    check(
        &narrow,
        &[at(
            "61 s old",
            &good(),
            TS + 61,
            reject("timestamp_out_of_tolerance"),
        )],
    );
}

#[test]
fn rejects_mailgun_forgeries_and_missing_signature_fields() {
    let ts = TS.to_string();
    let mac = sig(KEY, &ts, TOKEN);
    check(
        &mailgun(),
        &[
            at(
                "other token",
                &body(
                    &ts,
                    "b8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
                    &mac,
                ),
                TS,
                reject("signature_invalid"),
            ),
            at(
                "wrong key",
                &body(&ts, TOKEN, &sig(b"key-other", &ts, TOKEN)),
                TS,
                reject("signature_invalid"),
            ),
            at(
                "upper-case hex",
                &body(&ts, TOKEN, &mac.to_ascii_uppercase()),
                TS,
                reject("signature_invalid"),
            ),
            at(
                "word timestamp",
                &body("soon", TOKEN, &sig(KEY, "soon", TOKEN)),
                TS,
                reject("signature_malformed"),
            ),
            at(
                "no signature object",
                br#"{"event-data":{"event":"delivered","id":"x"}}"#,
                TS,
                reject("signature_missing"),
            ),
            at(
                "numeric timestamp",
                format!(
                    r#"{{"signature":{{"timestamp":{ts},"token":"{TOKEN}","signature":"{mac}"}}}}"#
                )
                .as_bytes(),
                TS,
                reject("signature_missing"),
            ),
            at(
                "form-encoded legacy webhook",
                format!("timestamp={ts}&token={TOKEN}&signature={mac}").as_bytes(),
                TS,
                reject("signature_missing"),
            ),
        ],
    );
}

#[test]
fn signs_mailgun_bodies_by_setting_their_signature_object() {
    let config = mailgun();
    let body = br#"{"event-data":{"event":"opened","id":"e1"},"signature":{"token":"old"}}"#;
    assert_eq!(sign(&config, KEY, body, "", TS, "tok_1").unwrap(), vec![]);
    let signed = sign_body(&config, KEY, body, TS, "tok_1").unwrap().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&signed).unwrap();
    assert_eq!(value["signature"]["token"], "tok_1");
    assert_eq!(value["signature"]["timestamp"], TS.to_string());
    assert_eq!(
        value["signature"]["signature"],
        sig(KEY, &TS.to_string(), "tok_1")
    );
    assert_eq!(value["event-data"]["id"], "e1");
    check(
        &config,
        &[at("signed", &signed, TS, accept("mg").dedup(Some("e1")))],
    );
    assert_eq!(
        sign_body(&config, KEY, b"[1]", TS, "tok_1"),
        Err(SignError::BodyNotAnObject)
    );
    assert_eq!(
        sign_body(&VerifierConfig::Github, KEY, body, TS, "tok_1"),
        Ok(None)
    );
}
