use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

const SECRET: &[u8] = b"typeform-secret-1";
const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"event_id":"01HBZ8Q7K3N5XJ2W8Y6T4V1R0S","event_type":"form_response","form_response":{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15","answers":[]}}"#;

fn sig(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", b64(&hmac256(secret, &[body])))
}

fn one(name: &'static str, value: &str, body: &[u8], expect: Expect) -> Case {
    case(
        name,
        &[("tf", SECRET)],
        &[("Typeform-Signature", value)],
        body,
        NOW,
        expect,
    )
}

#[test]
fn accepts_typeforms_signature_with_the_event_id_and_type() {
    check(
        &VerifierConfig::Typeform,
        &[
            one(
                "valid",
                &sig(SECRET, BODY),
                BODY,
                accept("tf")
                    .dedup(Some("01HBZ8Q7K3N5XJ2W8Y6T4V1R0S"))
                    .event(Some("form_response"))
                    .handshake(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("Typeform-Signature", &sig(SECRET, BODY))],
                BODY,
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_typeform_tampering_and_other_spellings() {
    let good = sig(SECRET, BODY);
    let encoded = &good[7..];
    let hex = hex::encode(hmac256(SECRET, &[BODY]));
    check(
        &VerifierConfig::Typeform,
        &[
            one("tampered", &good, b"{}", reject("signature_invalid")),
            one(
                "wrong secret",
                &sig(b"other", BODY),
                BODY,
                reject("signature_invalid"),
            ),
            one(
                "unpadded",
                &good[..good.len() - 1],
                BODY,
                reject("signature_invalid"),
            ),
            one("no prefix", encoded, BODY, reject("signature_invalid")),
            one(
                "hex digest",
                &format!("sha256={hex}"),
                BODY,
                reject("signature_invalid"),
            ),
            one(
                "url-safe alphabet",
                &good.replace('+', "-").replace('/', "_"),
                BODY,
                if good.contains(['+', '/']) {
                    reject("signature_invalid")
                } else {
                    accept("tf")
                },
            ),
            case(
                "missing",
                &[("tf", SECRET)],
                &[],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "twice",
                &[("tf", SECRET)],
                &[("Typeform-Signature", &good), ("Typeform-Signature", &good)],
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
