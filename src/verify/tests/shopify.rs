use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

// From shopify-app-js: packages/apps/shopify-api/lib/webhooks/__tests__/validate.test.ts.
const SECRET: &[u8] = b"test_secret_key";
const BODY: &[u8] = br#"{"foo": "bar"}"#;
const SIG: &str = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=";
const NOW: i64 = 1_700_000_000;

fn one(name: &'static str, sig: &str, expect: Expect) -> Case {
    let headers = [
        ("X-Shopify-Hmac-Sha256", sig),
        ("X-Shopify-Topic", "products/create"),
        ("X-Shopify-Webhook-Id", "123456789"),
    ];
    case(name, &[("sh", SECRET)], &headers, BODY, NOW, expect)
}

#[test]
fn accepts_shopify_published_vector_with_topic_and_webhook_id() {
    assert_eq!(b64(&hmac256(SECRET, &[BODY])), SIG);
    check(
        &VerifierConfig::Shopify,
        &[
            one(
                "published",
                SIG,
                accept("sh")
                    .dedup(Some("123456789"))
                    .event(Some("products/create")),
            ),
            // Topic and id are unsigned, so their absence changes nothing but the metadata.
            case(
                "bare",
                &[("sh", SECRET)],
                &[("X-Shopify-Hmac-Sha256", SIG)],
                BODY,
                NOW,
                accept("sh").dedup(None).event(None),
            ),
            // No replay window for Shopify (SPEC §3.2).
            case(
                "any clock",
                &[("sh", SECRET)],
                &[("X-Shopify-Hmac-Sha256", SIG)],
                BODY,
                0,
                accept("sh"),
            ),
        ],
    );
}

#[test]
fn accepts_shopify_signature_from_rotated_second_secret() {
    let h = [("X-Shopify-Hmac-Sha256", SIG)];
    check(
        &VerifierConfig::Shopify,
        &[case(
            "second",
            &[("old", b"old_secret"), ("new", SECRET)],
            &h,
            BODY,
            NOW,
            accept("new"),
        )],
    );
}

#[test]
fn rejects_shopify_tampered_body_wrong_secret_and_empty_body() {
    let h = [("X-Shopify-Hmac-Sha256", SIG)];
    let empty_sig = b64(&hmac256(SECRET, &[b""]));
    check(
        &VerifierConfig::Shopify,
        &[
            case(
                "tampered",
                &[("sh", SECRET)],
                &h,
                br#"{"foo": "baz"}"#,
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "wrong secret",
                &[("sh", b"test_secret_kez")],
                &h,
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
            // shopify-app-js answers MissingBody before looking at the HMAC.
            case(
                "empty body",
                &[("sh", SECRET)],
                &[("X-Shopify-Hmac-Sha256", &empty_sig)],
                b"",
                NOW,
                reject("body_missing"),
            ),
        ],
    );
}

#[test]
fn rejects_shopify_signature_in_any_other_spelling() {
    // safeCompare on the base64 strings: only the canonical padded form matches.
    let hex = hex::encode(hmac256(SECRET, &[BODY]));
    check(
        &VerifierConfig::Shopify,
        &[
            one(
                "unpadded",
                SIG.trim_end_matches('='),
                reject("signature_invalid"),
            ),
            one("hex digest", &hex, reject("signature_invalid")),
            one(
                "lower-cased",
                &SIG.to_lowercase(),
                reject("signature_invalid"),
            ),
            one(
                "prefixed",
                &format!("sha256={SIG}"),
                reject("signature_invalid"),
            ),
            one("surrounding whitespace", &format!(" {SIG} "), accept("sh")),
        ],
    );
}

#[test]
fn rejects_missing_and_duplicate_shopify_headers() {
    let s = [("sh", SECRET)];
    let d = "header_duplicated";
    check(
        &VerifierConfig::Shopify,
        &[
            case(
                "missing",
                &s,
                &[("X-Shopify-Topic", "orders/create")],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "two hmacs",
                &s,
                &[
                    ("X-Shopify-Hmac-Sha256", SIG),
                    ("X-Shopify-Hmac-Sha256", "AAAA"),
                ],
                BODY,
                NOW,
                reject(d),
            ),
            case(
                "two topics",
                &s,
                &[
                    ("X-Shopify-Hmac-Sha256", SIG),
                    ("X-Shopify-Topic", "a"),
                    ("X-Shopify-Topic", "b"),
                ],
                BODY,
                NOW,
                reject(d),
            ),
            case(
                "two ids",
                &s,
                &[
                    ("X-Shopify-Hmac-Sha256", SIG),
                    ("X-Shopify-Webhook-Id", "1"),
                    ("X-Shopify-Webhook-Id", "2"),
                ],
                BODY,
                NOW,
                reject(d),
            ),
        ],
    );
}
