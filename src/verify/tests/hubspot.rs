use super::{accept, b64, case, check, hmac256, reject, Case, Expect, URL};
use crate::verify::{HubspotConfig, VerifierConfig};

// HubSpot's v3 example shape: an app's client secret and a batch of events.
const SECRET: &[u8] = b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const BODY: &[u8] = br#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"subscriptionType":"contact.creation"}]"#;
const NOW: i64 = 1_700_000_000;
const MS: i64 = NOW * 1000;

fn sig(ts: i64, url: &str, body: &[u8], secret: &[u8]) -> String {
    let ts = ts.to_string();
    b64(&hmac256(
        secret,
        &[b"POST", url.as_bytes(), body, ts.as_bytes()],
    ))
}

fn at(name: &'static str, ts: i64, expect: Expect) -> Case {
    let ts_text = ts.to_string();
    let signature = sig(ts, URL, BODY, SECRET);
    let headers = [
        ("X-HubSpot-Request-Timestamp", ts_text.as_str()),
        ("X-HubSpot-Signature-v3", signature.as_str()),
    ];
    case(name, &[("hs", SECRET)], &headers, BODY, NOW, expect)
}

#[test]
fn accepts_hubspot_v3_signatures_under_five_minutes_old_and_from_the_future() {
    check(
        &VerifierConfig::Hubspot(HubspotConfig::default()),
        &[
            at("now", MS, accept("hs").dedup(None).event(None)),
            at("299 s old", MS - 299_000, accept("hs")),
            // floor(ms / 1000): 299.001 s is 300 s old once floored.
            at(
                "299.001 s old",
                MS - 299_001,
                reject("timestamp_out_of_tolerance"),
            ),
            at(
                "300 s old",
                MS - 300_000,
                reject("timestamp_out_of_tolerance"),
            ),
            at("an hour ahead", MS + 3_600_000, accept("hs")),
        ],
    );
}

#[test]
fn hubspot_maximum_age_follows_the_sources_tolerance_s() {
    let short = VerifierConfig::Hubspot(HubspotConfig { tolerance_s: 60 });
    check(
        &short,
        &[
            at("59 s old", MS - 59_000, accept("hs")),
            at(
                "60 s old",
                MS - 60_000,
                reject("timestamp_out_of_tolerance"),
            ),
            at("an hour ahead", MS + 3_600_000, accept("hs")),
        ],
    );
    for (tolerance_s, ok) in [(0, false), (1, true), (86_400, true), (86_401, false)] {
        let config = VerifierConfig::Hubspot(HubspotConfig { tolerance_s });
        assert_eq!(config.validate().is_ok(), ok, "{tolerance_s}");
    }
    let wire: VerifierConfig = serde_json::from_str(r#"{"type":"hubspot"}"#).unwrap();
    assert_eq!(wire, VerifierConfig::Hubspot(HubspotConfig::default()));
}

#[test]
fn accepts_hubspot_signature_from_rotated_second_secret_and_with_its_query() {
    let ts = MS.to_string();
    let with_query = format!("{URL}?portal=62515");
    let signature = sig(MS, &with_query, BODY, SECRET);
    let headers = [
        ("X-HubSpot-Request-Timestamp", ts.as_str()),
        ("X-HubSpot-Signature-v3", signature.as_str()),
    ];
    check(
        &VerifierConfig::Hubspot(HubspotConfig::default()),
        &[
            case(
                "second",
                &[("old", b"old"), ("new", SECRET)],
                &headers,
                BODY,
                NOW,
                accept("new"),
            )
            .at(&with_query),
            case(
                "query dropped",
                &[("hs", SECRET)],
                &headers,
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
        ],
    );
}

#[test]
fn rejects_hubspot_tampering_wrong_secret_and_garbled_headers() {
    let ts = MS.to_string();
    let good = sig(MS, URL, BODY, SECRET);
    let with = |sig: &str, ts: &str| {
        vec![
            ("X-HubSpot-Request-Timestamp", ts.to_owned()),
            ("X-HubSpot-Signature-v3", sig.to_owned()),
        ]
    };
    let run = |name, headers: Vec<(&str, String)>, body: &[u8], secret: &'static [u8], expect| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        case(name, &[("hs", secret)], &headers, body, NOW, expect)
    };
    check(
        &VerifierConfig::Hubspot(HubspotConfig::default()),
        &[
            run(
                "tampered",
                with(&good, &ts),
                b"[]",
                SECRET,
                reject("signature_invalid"),
            ),
            run(
                "wrong secret",
                with(&good, &ts),
                BODY,
                b"other",
                reject("signature_invalid"),
            ),
            run(
                "timestamp moved",
                with(&good, &(MS + 1).to_string()),
                BODY,
                SECRET,
                reject("signature_invalid"),
            ),
            run(
                "unpadded",
                with(good.trim_end_matches('='), &ts),
                BODY,
                SECRET,
                reject("signature_invalid"),
            ),
            run(
                "seconds, not ms",
                with(&sig(NOW, URL, BODY, SECRET), &NOW.to_string()),
                BODY,
                SECRET,
                reject("timestamp_out_of_tolerance"),
            ),
            run(
                "word timestamp",
                with(&good, "soon"),
                BODY,
                SECRET,
                reject("signature_malformed"),
            ),
            run(
                "missing timestamp",
                vec![("X-HubSpot-Signature-v3", good.clone())],
                BODY,
                SECRET,
                reject("signature_missing"),
            ),
            run(
                "missing signature",
                vec![("X-HubSpot-Request-Timestamp", ts.clone())],
                BODY,
                SECRET,
                reject("signature_missing"),
            ),
            run(
                "twice",
                [
                    with(&good, &ts),
                    vec![("X-HubSpot-Signature-v3", good.clone())],
                ]
                .concat(),
                BODY,
                SECRET,
                reject("header_duplicated"),
            ),
        ],
    );
}
