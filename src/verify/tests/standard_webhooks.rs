use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

// Published in the Standard Webhooks spec and svix's docs.
pub(super) const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(super) const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
pub(super) const TS: i64 = 1_614_265_330;
pub(super) const BODY: &[u8] = br#"{"test": 2432232314}"#;
pub(super) const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// base64 decoding of the part after `whsec_`, written out to keep the test independent.
const KEY: &[u8] = &[
    0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f, 0x08, 0x2c,
    0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0,
];

fn sig(key: &[u8], id: &str, ts: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        b64(&hmac256(
            key,
            &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body]
        ))
    )
}

pub(super) fn headers<'a>(
    prefix: &str,
    id: &'a str,
    ts: &'a str,
    sig: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let [i, t, s] = match prefix {
        "svix" => ["svix-id", "svix-timestamp", "svix-signature"],
        _ => ["webhook-id", "webhook-timestamp", "webhook-signature"],
    };
    vec![(i, id), (t, ts), (s, sig)]
}

pub(super) fn at(name: &'static str, sig: &str, ts: &str, now: i64, expect: Expect) -> Case {
    let h = headers("webhook", ID, ts, sig);
    case(name, &[("sw", SECRET)], &h, BODY, now, expect)
}

fn one(name: &'static str, sig: &str, expect: Expect) -> Case {
    at(name, sig, &TS.to_string(), TS, expect)
}

#[test]
fn accepts_standard_webhooks_published_vector() {
    assert_eq!(
        sig(KEY, ID, TS, BODY),
        SIG,
        "KEY is the decoded published secret"
    );
    let svix = headers("svix", ID, "1614265330", SIG);
    check(
        &VerifierConfig::StandardWebhooks,
        &[
            one(
                "webhook-* names",
                SIG,
                accept("sw").dedup(Some(ID)).event(None),
            ),
            case(
                "svix-* names",
                &[("sw", SECRET)],
                &svix,
                BODY,
                TS,
                accept("sw").dedup(Some(ID)),
            ),
            case(
                "secret without whsec_",
                &[("sw", &SECRET[6..])],
                &svix,
                BODY,
                TS,
                accept("sw"),
            ),
        ],
    );
}

#[test]
fn rejects_standard_webhooks_timestamps_outside_300_s_either_way() {
    let t = |ts: i64| (sig(KEY, ID, ts, BODY), ts.to_string());
    let cases: Vec<Case> = [
        ("300 s old", -300, accept("sw")),
        ("301 s old", -301, reject("timestamp_out_of_tolerance")),
        ("300 s ahead", 300, accept("sw")),
        ("301 s ahead", 301, reject("timestamp_out_of_tolerance")),
    ]
    .into_iter()
    .map(|(name, offset, expect)| {
        let (s, ts) = t(TS + offset);
        at(name, &s, &ts, TS, expect)
    })
    .collect();
    check(&VerifierConfig::StandardWebhooks, &cases);
    // Timestamp before signature, as all libraries: stale and forged reports the age.
    check(
        &VerifierConfig::StandardWebhooks,
        &[at(
            "stale forged",
            "v1,AAAA",
            "1",
            TS,
            reject("timestamp_out_of_tolerance"),
        )],
    );
}

#[test]
fn accepts_any_v1_entry_and_skips_other_versions() {
    let bad = sig(b"other key", ID, TS, BODY);
    let good_b64 = &SIG[3..];
    let unpadded = SIG.trim_end_matches('=');
    check(
        &VerifierConfig::StandardWebhooks,
        &[
            one("bad then good", &format!("{bad} {SIG}"), accept("sw")),
            one(
                "v2 and v1a beside v1",
                &format!("v2,{good_b64} v1a,{good_b64} {SIG}"),
                accept("sw"),
            ),
            one(
                "garbage entry beside v1",
                &format!("garbage {SIG}"),
                accept("sw"),
            ),
            one("double space", &format!("{bad}  {SIG}"), accept("sw")),
            one("only bad", &bad, reject("signature_invalid")),
            one(
                "only other versions",
                &format!("v2,{good_b64} v1a,{good_b64}"),
                reject("signature_version_unsupported"),
            ),
            one(
                "comma-separated list",
                &format!("{bad},{SIG}"),
                reject("signature_invalid"),
            ),
            one(
                "trailing field",
                &format!("{SIG},extra"),
                reject("signature_invalid"),
            ),
            one("unpadded base64", unpadded, reject("signature_invalid")),
            one(
                "url-safe base64",
                &SIG.replace('+', "-").replace('/', "_"),
                reject("signature_invalid"),
            ),
            one(
                "upper-case version",
                &SIG.replace("v1,", "V1,"),
                reject("signature_version_unsupported"),
            ),
        ],
    );
}

#[test]
fn rejects_tampered_body_wrong_and_unusable_secrets() {
    let h = headers("webhook", ID, "1614265330", SIG);
    let unusable = b"whsec_not base64!".as_slice();
    check(
        &VerifierConfig::StandardWebhooks,
        &[
            case(
                "tampered body",
                &[("sw", SECRET)],
                &h,
                br#"{"test": 2432232315}"#,
                TS,
                reject("signature_invalid"),
            ),
            case(
                "wrong secret",
                &[("sw", b"whsec_dGVzdA==")],
                &h,
                BODY,
                TS,
                reject("signature_invalid"),
            ),
            case(
                "rotated second",
                &[("old", b"whsec_dGVzdA=="), ("new", SECRET)],
                &h,
                BODY,
                TS,
                accept("new"),
            ),
            case(
                "unusable first",
                &[("bad", unusable), ("good", SECRET)],
                &h,
                BODY,
                TS,
                accept("good"),
            ),
            case(
                "only unusable",
                &[("bad", unusable), ("empty", b"whsec_")],
                &h,
                BODY,
                TS,
                reject("secret_unusable"),
            ),
            case("no secret", &[], &h, BODY, TS, reject("no_active_secret")),
        ],
    );
}

#[test]
fn takes_standard_webhooks_event_name_from_body_type() {
    let body = br#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}"#;
    let s = sig(KEY, ID, TS, body);
    let h = headers("webhook", ID, "1614265330", &s);
    check(
        &VerifierConfig::StandardWebhooks,
        &[case(
            "typed body",
            &[("sw", SECRET)],
            &h,
            body,
            TS,
            accept("sw").event(Some("invoice.paid")),
        )],
    );
}

#[test]
fn one_v1_entry_reads_as_splitting_the_value_reads_it() {
    for value in [
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        "v1,",
        "v1,a,b",
        "v1,a v1,b",
        "v1,a ",
        " v1,a",
        "v2,a",
        "v1a",
        "v2,a v1,b",
        "",
    ] {
        crate::verify::fuzz_logic::standard_webhooks_header(value.as_bytes());
    }
}
