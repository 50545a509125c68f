use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::{PaddleConfig, VerifierConfig};

const SECRET: &[u8] = b"pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI";
const TS: i64 = 1_671_552_777;
const BODY: &[u8] = br#"{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.completed","occurred_at":"2023-08-21T11:57:47.390028Z","notification_id":"ntf_01h8bzam1z32agrxjwhjgqk8w6","data":{"id":"txn_01h8bz"}}"#;

fn h1(secret: &[u8], ts: &str, body: &[u8]) -> String {
    hex::encode(hmac256(secret, &[ts.as_bytes(), b":", body]))
}

fn good() -> String {
    format!("ts={TS};h1={}", h1(SECRET, &TS.to_string(), BODY))
}

fn paddle() -> VerifierConfig {
    VerifierConfig::Paddle(PaddleConfig::default())
}

fn at(name: &'static str, value: &str, now: i64, expect: Expect) -> Case {
    case(
        name,
        &[("pd", SECRET)],
        &[("Paddle-Signature", value)],
        BODY,
        now,
        expect,
    )
}

fn one(name: &'static str, value: &str, expect: Expect) -> Case {
    at(name, value, TS, expect)
}

#[test]
fn accepts_paddles_signature_with_the_event_id_and_type() {
    let mac = h1(SECRET, &TS.to_string(), BODY);
    check(
        &paddle(),
        &[
            one(
                "valid",
                &good(),
                accept("pd")
                    .dedup(Some("evt_01h8bzakzx3hm2fmen703n5q45"))
                    .event(Some("transaction.completed"))
                    .handshake(None),
            ),
            one(
                "bad then good h1",
                &format!("ts={TS};h1=00;h1={mac}"),
                accept("pd"),
            ),
            one("h1 before ts", &format!("h1={mac};ts={TS}"), accept("pd")),
            one(
                "item without =",
                &format!("ts={TS};junk;h1={mac}"),
                accept("pd"),
            ),
            // The SDK signs `int(ts)` formatted back: leading zeros drop.
            one(
                "leading zeros in ts",
                &format!("ts=00{TS};h1={mac}"),
                accept("pd"),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("Paddle-Signature", &good())],
                BODY,
                TS,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_paddle_timestamps_outside_five_seconds_unless_configured() {
    let wide = VerifierConfig::Paddle(PaddleConfig { tolerance_s: 300 });
    check(
        &paddle(),
        &[
            at("5 s old", &good(), TS + 5, accept("pd")),
            at(
                "6 s old",
                &good(),
                TS + 6,
                reject("timestamp_out_of_tolerance"),
            ),
            at("5 s ahead", &good(), TS - 5, accept("pd")),
            at(
                "6 s ahead",
                &good(),
                TS - 6,
                reject("timestamp_out_of_tolerance"),
            ),
            // The SDK checks the window before the signature.
            at(
                "stale and forged",
                &format!("ts={TS};h1=00"),
                TS + 6,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
    check(
        &wide,
        &[
            at("6 s old, 300 s allowed", &good(), TS + 6, accept("pd")),
            at(
                "301 s old",
                &good(),
                TS + 301,
                reject("timestamp_out_of_tolerance"),
            ),
        ],
    );
}

#[test]
fn rejects_paddle_tampering_and_headers_the_sdk_refuses() {
    let mac = h1(SECRET, &TS.to_string(), BODY);
    check(
        &paddle(),
        &[
            case(
                "tampered",
                &[("pd", SECRET)],
                &[("Paddle-Signature", &good())],
                b"{}",
                TS,
                reject("signature_invalid"),
            ),
            one(
                "wrong secret",
                &format!("ts={TS};h1={}", h1(b"other", &TS.to_string(), BODY)),
                reject("signature_invalid"),
            ),
            one(
                "upper-case hex",
                &format!("ts={TS};h1={}", mac.to_ascii_uppercase()),
                reject("signature_invalid"),
            ),
            one(
                "unknown key",
                &format!("ts={TS};h2={mac};h1={mac}"),
                reject("signature_malformed"),
            ),
            one(
                "spaced key",
                &format!("ts={TS}; h1={mac}"),
                reject("signature_malformed"),
            ),
            one(
                "second =",
                &format!("ts={TS};h1={mac}=x"),
                reject("signature_malformed"),
            ),
            one("no ts", &format!("h1={mac}"), reject("signature_malformed")),
            one(
                "ts twice",
                &format!("ts={TS};ts={TS};h1={mac}"),
                reject("signature_malformed"),
            ),
            one(
                "word ts",
                &format!("ts=now;h1={mac}"),
                reject("signature_malformed"),
            ),
            one(
                "no h1",
                &format!("ts={TS}"),
                reject("signature_version_unsupported"),
            ),
            case(
                "missing",
                &[("pd", SECRET)],
                &[],
                BODY,
                TS,
                reject("signature_missing"),
            ),
        ],
    );
}

#[test]
fn paddle_tolerance_must_be_a_second_to_a_day() {
    for (tolerance_s, ok) in [(0, false), (1, true), (86_400, true), (86_401, false)] {
        let config = VerifierConfig::Paddle(PaddleConfig { tolerance_s });
        assert_eq!(config.validate().is_ok(), ok, "{tolerance_s}");
    }
    let wire: VerifierConfig = serde_json::from_str(r#"{"type":"paddle"}"#).unwrap();
    assert_eq!(wire, paddle());
    assert!(serde_json::from_str::<VerifierConfig>(r#"{"type":"paddle","other":1}"#).is_err());
}

#[test]
fn the_one_secret_shape_reads_as_item_by_item_reading_reads_it() {
    for value in [
        "ts=1750000000;h1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        "ts=1;h1=",
        "ts=0123;h1=abc",
        "ts=1;h1=a=b",
        "ts=1;h1=a;h1=b",
        "ts=1;h1=a;ts=2",
        "ts=1;h1=a;x=1",
        "ts=;h1=a",
        "ts=1 ;h1=a",
        "ts=1;h2=a",
        "ts=1;h1=a,b",
        "ts=1,h1=a",
        "ts=12345678901234567890;h1=a",
        "t=1;h1=a",
    ] {
        crate::verify::fuzz_logic::paddle_header(value.as_bytes());
    }
}
