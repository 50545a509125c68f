use super::{accept, b64, case, check, hmac256, reject, Case, Expect, URL};
use crate::verify::VerifierConfig;

// A test notification as Square sends it; SIG is accepted by squareup 46.0.0's
// `verify_signature` for this key, URL and body.
const KEY: &[u8] = b"asdf1234";
const DOC_URL: &str = "https://example.com/webhook";
const DOC_BODY: &[u8] = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#;
const SIG: &str = "pGRqj9GSSbM6O/O9z98MeFVedq3Q2OTDEMGMq8wEM+s=";
const NOW: i64 = 1_700_000_000;

fn sig(url: &str, body: &[u8], key: &[u8]) -> String {
    b64(&hmac256(key, &[url.as_bytes(), body]))
}

fn one(name: &'static str, sig: &str, body: &[u8], expect: Expect) -> Case {
    case(
        name,
        &[("sq", KEY)],
        &[("X-Square-HmacSha256-Signature", sig)],
        body,
        NOW,
        expect,
    )
    .at(DOC_URL)
}

#[test]
fn accepts_square_test_notification_with_its_event_id_and_type() {
    let good = sig(DOC_URL, DOC_BODY, KEY);
    assert_eq!(good, SIG);
    check(
        &VerifierConfig::Square,
        &[
            one(
                "test notification",
                &good,
                DOC_BODY,
                accept("sq")
                    .dedup(Some("ac3ac95b-f97d-458c-a6e6-18981597e05f"))
                    .event(Some("webhooks.test_notification")),
            ),
            case(
                "second",
                &[("old", b"old"), ("sq", KEY)],
                &[("X-Square-HmacSha256-Signature", &good)],
                DOC_BODY,
                0,
                accept("sq"),
            )
            .at(DOC_URL),
        ],
    );
}

#[test]
fn rejects_square_tampering_wrong_key_other_url_and_garbled_headers() {
    let good = sig(DOC_URL, DOC_BODY, KEY);
    check(
        &VerifierConfig::Square,
        &[
            one(
                "tampered",
                &good,
                &DOC_BODY[1..],
                reject("signature_invalid"),
            ),
            one(
                "wrong key",
                &sig(DOC_URL, DOC_BODY, b"other"),
                DOC_BODY,
                reject("signature_invalid"),
            ),
            case(
                "other url",
                &[("sq", KEY)],
                &[("X-Square-HmacSha256-Signature", &good)],
                DOC_BODY,
                NOW,
                reject("signature_invalid"),
            )
            .at(URL),
            one(
                "unpadded",
                good.trim_end_matches('='),
                DOC_BODY,
                reject("signature_invalid"),
            ),
            one(
                "hex instead of base64",
                &hex::encode(hmac256(KEY, &[DOC_URL.as_bytes(), DOC_BODY])),
                DOC_BODY,
                reject("signature_invalid"),
            ),
            one(
                "empty body",
                &sig(DOC_URL, b"", KEY),
                b"",
                reject("body_missing"),
            ),
            case(
                "missing",
                &[("sq", KEY)],
                &[],
                DOC_BODY,
                NOW,
                reject("signature_missing"),
            )
            .at(DOC_URL),
            case(
                "twice",
                &[("sq", KEY)],
                &[
                    ("X-Square-HmacSha256-Signature", &good),
                    ("X-Square-HmacSha256-Signature", &good),
                ],
                DOC_BODY,
                NOW,
                reject("header_duplicated"),
            )
            .at(DOC_URL),
        ],
    );
}
