use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::{HmacConfig, MacAlgorithm, MacEncoding, VerifierConfig};
use hmac::{Hmac, Mac};
use sha2::Sha512;

const SECRET: &[u8] = b"generic-secret";
const BODY: &[u8] = br#"{"event":"deploy"}"#;
const NOW: i64 = 1_700_000_000;

fn config(encoding: MacEncoding, algorithm: MacAlgorithm, timestamped: bool) -> HmacConfig {
    HmacConfig {
        header: "X-Signature".to_owned(),
        prefix: Some("sha256=".to_owned()),
        encoding,
        algorithm,
        signed_content: if timestamped {
            "{timestamp}.{body}"
        } else {
            "{body}"
        }
        .to_owned(),
        timestamp_header: timestamped.then(|| "X-Timestamp".to_owned()),
        tolerance_s: 60,
        dedup_header: Some("X-Delivery".to_owned()),
        event_header: Some("X-Event".to_owned()),
    }
}

fn hex_config() -> VerifierConfig {
    VerifierConfig::Hmac(config(MacEncoding::Hex, MacAlgorithm::Sha256, false))
}

fn one(name: &'static str, sig: &str, expect: Expect) -> Case {
    let h = [
        ("X-Signature", sig),
        ("X-Delivery", "d-1"),
        ("X-Event", "deploy"),
    ];
    case(name, &[("hm", SECRET)], &h, BODY, NOW, expect)
}

#[test]
fn accepts_generic_hex_hmac_in_either_case() {
    let hex = hex::encode(hmac256(SECRET, &[BODY]));
    check(
        &hex_config(),
        &[
            one(
                "lower hex",
                &format!("sha256={hex}"),
                accept("hm").dedup(Some("d-1")).event(Some("deploy")),
            ),
            // No library to mirror: the digest is compared, not its spelling.
            one(
                "upper hex",
                &format!("sha256={}", hex.to_uppercase()),
                accept("hm"),
            ),
            case(
                "rotated second",
                &[("old", b"x"), ("new", SECRET)],
                &[("X-Signature", &format!("sha256={hex}"))],
                BODY,
                NOW,
                accept("new").dedup(None),
            ),
        ],
    );
}

#[test]
fn rejects_generic_hmac_tampering_and_garbling() {
    let hex = hex::encode(hmac256(SECRET, &[BODY]));
    let wrong = hex::encode(hmac256(b"other", &[BODY]));
    let m = "signature_malformed";
    check(
        &hex_config(),
        &[
            one(
                "wrong secret",
                &format!("sha256={wrong}"),
                reject("signature_invalid"),
            ),
            case(
                "tampered",
                &[("hm", SECRET)],
                &[("X-Signature", &format!("sha256={hex}"))],
                b"{}",
                NOW,
                reject("signature_invalid"),
            ),
            one("no prefix", &hex, reject(m)),
            one("prefix case differs", &format!("SHA256={hex}"), reject(m)),
            one("short", &format!("sha256={}", &hex[..62]), reject(m)),
            one(
                "base64 instead of hex",
                &format!("sha256={}", b64(&hmac256(SECRET, &[BODY]))),
                reject(m),
            ),
            case(
                "missing",
                &[("hm", SECRET)],
                &[],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "duplicate",
                &[("hm", SECRET)],
                &[
                    ("X-Signature", &format!("sha256={hex}")),
                    ("X-Signature", &format!("sha256={wrong}")),
                ],
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}

fn sha512_b64(ts: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(SECRET).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", b64(&mac.finalize().into_bytes()))
}

#[test]
fn checks_generic_timestamp_template_and_tolerance() {
    let config = VerifierConfig::Hmac(config(MacEncoding::Base64, MacAlgorithm::Sha512, true));
    let at = |name, ts: i64, now: i64, expect| {
        let t = ts.to_string();
        case(
            name,
            &[("hm", SECRET)],
            &[("X-Signature", &sha512_b64(&t, BODY)), ("X-Timestamp", &t)],
            BODY,
            now,
            expect,
        )
    };
    let unpadded = sha512_b64("1700000000", BODY)
        .trim_end_matches('=')
        .to_owned();
    check(
        &config,
        &[
            at("now", NOW, NOW, accept("hm")),
            at("60 s old", NOW - 60, NOW, accept("hm")),
            at(
                "61 s old",
                NOW - 61,
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            at("60 s ahead", NOW + 60, NOW, accept("hm")),
            at(
                "61 s ahead",
                NOW + 61,
                NOW,
                reject("timestamp_out_of_tolerance"),
            ),
            case(
                "unpadded base64",
                &[("hm", SECRET)],
                &[("X-Signature", &unpadded), ("X-Timestamp", "1700000000")],
                BODY,
                NOW,
                accept("hm"),
            ),
            case(
                "timestamp swapped",
                &[("hm", SECRET)],
                &[
                    ("X-Signature", &sha512_b64("1700000000", BODY)),
                    ("X-Timestamp", "1700000001"),
                ],
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "no timestamp",
                &[("hm", SECRET)],
                &[("X-Signature", &sha512_b64("1700000000", BODY))],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "word timestamp",
                &[("hm", SECRET)],
                &[
                    ("X-Signature", &sha512_b64("now", BODY)),
                    ("X-Timestamp", "now"),
                ],
                BODY,
                NOW,
                reject("signature_malformed"),
            ),
        ],
    );
}

#[test]
fn refuses_unvalidated_generic_config_as_operator_fault() {
    let mut broken = config(MacEncoding::Hex, MacAlgorithm::Sha256, false);
    broken.header = "bad header".to_owned();
    let mut untimed = config(MacEncoding::Hex, MacAlgorithm::Sha256, false);
    untimed.signed_content = "{timestamp}.{body}".to_owned();
    let h = [("X-Signature", "sha256=00")];
    check(
        &VerifierConfig::Hmac(broken),
        &[case(
            "bad header name",
            &[("hm", SECRET)],
            &h,
            BODY,
            NOW,
            reject("verifier_misconfigured"),
        )],
    );
    check(
        &VerifierConfig::Hmac(untimed),
        &[case(
            "template without header",
            &[("hm", SECRET)],
            &h,
            BODY,
            NOW,
            reject("verifier_misconfigured"),
        )],
    );
}
