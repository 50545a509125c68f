use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

const SECRET: &[u8] = b"whsec_test_secret";
const BODY: &[u8] =
    br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded"}"#;
const NOW: i64 = 1_700_000_000;

fn v1(secret: &[u8], t: i64, body: &[u8]) -> String {
    hex::encode(hmac256(secret, &[t.to_string().as_bytes(), b".", body]))
}

fn signed(t: i64) -> String {
    format!("t={t},v1={}", v1(SECRET, t, BODY))
}

fn one(name: &'static str, header: &str, expect: Expect) -> Case {
    case(
        name,
        &[("st", SECRET)],
        &[("Stripe-Signature", header)],
        BODY,
        NOW,
        expect,
    )
}

#[test]
fn accepts_stripe_signature_with_body_id_and_type() {
    check(
        &VerifierConfig::Stripe,
        &[one(
            "valid",
            &signed(NOW),
            accept("st")
                .dedup(Some("evt_1NG8Du2eZvKYlo2CUI79vXWy"))
                .event(Some("payment_intent.succeeded")),
        )],
    );
}

#[test]
fn accepts_stripe_signature_from_rotated_second_secret() {
    let secrets = [("old", b"whsec_old".as_slice()), ("new", SECRET)];
    let header = signed(NOW);
    check(
        &VerifierConfig::Stripe,
        &[case(
            "second secret",
            &secrets,
            &[("Stripe-Signature", &header)],
            BODY,
            NOW,
            accept("new"),
        )],
    );
}

#[test]
fn rejects_stripe_signature_outside_tolerance() {
    check(
        &VerifierConfig::Stripe,
        &[
            one("exactly 300 s old", &signed(NOW - 300), accept("st")),
            one(
                "301 s old",
                &signed(NOW - 301),
                reject("timestamp_out_of_tolerance"),
            ),
            one(
                "a day old",
                &signed(NOW - 86_400),
                reject("timestamp_out_of_tolerance"),
            ),
            one("epoch", &signed(0), reject("timestamp_out_of_tolerance")),
        ],
    );
}

#[test]
fn accepts_future_stripe_timestamps_like_stripe_libraries() {
    // stripe-python: `timestamp < time.time() - tolerance`; stripe-node: `age > tolerance`.
    check(
        &VerifierConfig::Stripe,
        &[
            one("an hour ahead", &signed(NOW + 3_600), accept("st")),
            one("ten years ahead", &signed(NOW + 315_360_000), accept("st")),
        ],
    );
}

#[test]
fn rejects_tampered_stripe_body_and_wrong_secret_before_checking_age() {
    let wrong = format!("t={NOW},v1={}", v1(b"whsec_other", NOW, BODY));
    let stale_wrong = format!("t=1,v1={}", v1(b"whsec_other", 1, BODY));
    check(
        &VerifierConfig::Stripe,
        &[
            case(
                "tampered body",
                &[("st", SECRET)],
                &[("Stripe-Signature", &signed(NOW))],
                b"{}",
                NOW,
                reject("signature_invalid"),
            ),
            one("wrong secret", &wrong, reject("signature_invalid")),
            one(
                "stale and wrong: signature reported",
                &stale_wrong,
                reject("signature_invalid"),
            ),
            // The key is the whsec_ string as-is, not its base64 decoding.
            case(
                "secret without whsec_",
                &[("st", b"test_secret")],
                &[("Stripe-Signature", &signed(NOW))],
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
        ],
    );
}

#[test]
fn accepts_any_matching_v1_entry_and_ignores_other_schemes() {
    let good = v1(SECRET, NOW, BODY);
    let bad = v1(b"whsec_other", NOW, BODY);
    let h = |rest: &str| format!("t={NOW},{rest}");
    check(
        &VerifierConfig::Stripe,
        &[
            one(
                "bad then good v1",
                &h(&format!("v1={bad},v1={good}")),
                accept("st"),
            ),
            one(
                "v0 beside v1",
                &h(&format!("v0={bad},v1={good}")),
                accept("st"),
            ),
            one(
                "unknown item beside v1",
                &h(&format!("v1={good},x=1,flag")),
                accept("st"),
            ),
            one("t last", &format!("v1={good},t={NOW}"), accept("st")),
            one(
                "only bad v1",
                &h(&format!("v1={bad}")),
                reject("signature_invalid"),
            ),
            one(
                "only v0",
                &h(&format!("v0={good}")),
                reject("signature_version_unsupported"),
            ),
            one(
                "unknown version only",
                &h(&format!("v2={good}")),
                reject("signature_version_unsupported"),
            ),
            one("empty v1", &h("v1="), reject("signature_invalid")),
            one(
                "extra = after v1 value",
                &h(&format!("v1={good}=x")),
                accept("st"),
            ),
            one(
                "extra = after t value",
                &format!("t={NOW}=x,v1={good}"),
                accept("st"),
            ),
        ],
    );
}

#[test]
fn rejects_upper_case_hex_and_inner_whitespace_like_stripe() {
    let good = v1(SECRET, NOW, BODY);
    check(
        &VerifierConfig::Stripe,
        &[
            one(
                "upper-case hex",
                &format!("t={NOW},v1={}", good.to_uppercase()),
                reject("signature_invalid"),
            ),
            // The key becomes " v1", which is no scheme: same outcome as stripe-python.
            one(
                "space after comma",
                &format!("t={NOW}, v1={good}"),
                reject("signature_version_unsupported"),
            ),
            one(
                "space in t",
                &format!("t= {NOW},v1={good}"),
                reject("signature_malformed"),
            ),
            one(
                "space after value",
                &format!("t={NOW},v1={good} "),
                accept("st"),
            ),
            one(
                "surrounding whitespace",
                &format!("  t={NOW},v1={good}"),
                accept("st"),
            ),
        ],
    );
}

#[test]
fn rejects_garbled_and_duplicate_stripe_headers() {
    let good = v1(SECRET, NOW, BODY);
    let m = "signature_malformed";
    let two = [
        ("Stripe-Signature", signed(NOW)),
        ("Stripe-Signature", signed(NOW)),
    ];
    let two: Vec<(&str, &str)> = two.iter().map(|(n, v)| (*n, v.as_str())).collect();
    check(
        &VerifierConfig::Stripe,
        &[
            case(
                "missing",
                &[("st", SECRET)],
                &[],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            one("garbage", "garbage", reject(m)),
            one("no t", &format!("v1={good}"), reject(m)),
            one("t not a number", &format!("t=abc,v1={good}"), reject(m)),
            one("negative t", &format!("t=-5,v1={good}"), reject(m)),
            one(
                "t with fraction",
                &format!("t={NOW}.0,v1={good}"),
                reject(m),
            ),
            // stripe-python keeps the first t, stripe-node the last: ambiguous.
            one(
                "two t fields",
                &format!("t={NOW},t={},v1={good}", NOW + 1),
                reject(m),
            ),
            one(
                "same t twice",
                &format!("t={NOW},t={NOW},v1={good}"),
                reject(m),
            ),
            case(
                "two header lines",
                &[("st", SECRET)],
                &two,
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
            // Both libraries sign the re-formatted integer ("%d"), so leading zeros verify.
            one(
                "leading zeros in t",
                &format!("t=000{NOW},v1={good}"),
                accept("st"),
            ),
        ],
    );
}

#[test]
fn accepts_stripe_body_without_id_or_json() {
    let body = b"not json";
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, body));
    check(
        &VerifierConfig::Stripe,
        &[case(
            "not json",
            &[("st", SECRET)],
            &[("Stripe-Signature", &header)],
            body,
            NOW,
            accept("st").dedup(None).event(None),
        )],
    );
}

#[test]
fn the_one_secret_shape_reads_as_item_by_item_reading_reads_it() {
    for value in [
        "t=1750000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
        "t=1,v1=",
        "t=0123,v1=abc",
        "t=1,v1=a=b",
        "t=1,v1=a,v1=b",
        "t=1,v1=a,t=2",
        "t=,v1=a",
        "t=1 ,v1=a",
        "t=1,v0=a",
        "t=1,v1=a;b",
        "t=1;v1=a",
        "t=12345678901234567890,v1=a",
        "tt=1,v1=a",
        "t=-1,v1=a",
    ] {
        crate::verify::fuzz_logic::stripe_header(value.as_bytes());
    }
}
