//! Standard Webhooks header handling: svix-* precedence, missing, garbled, duplicated.

use super::standard_webhooks::{at, headers, BODY, ID, SECRET, SIG, TS};
use super::{accept, case, check, reject};
use crate::verify::VerifierConfig;

#[test]
fn prefers_svix_headers_over_webhook_headers_like_svix() {
    let mut both = headers("svix", ID, "1614265330", SIG);
    both.extend(headers("webhook", "msg_other", "1", "v1,AAAA"));
    let mut wrong_svix = headers("webhook", ID, "1614265330", SIG);
    wrong_svix.push(("svix-signature", "v1,AAAA"));
    check(
        &VerifierConfig::StandardWebhooks,
        &[
            case(
                "svix wins",
                &[("sw", SECRET)],
                &both,
                BODY,
                TS,
                accept("sw").dedup(Some(ID)),
            ),
            case(
                "svix signature wins",
                &[("sw", SECRET)],
                &wrong_svix,
                BODY,
                TS,
                reject("signature_invalid"),
            ),
        ],
    );
}

#[test]
fn rejects_garbled_missing_and_duplicate_standard_webhooks_headers() {
    let full = headers("webhook", ID, "1614265330", SIG);
    let without = |skip: usize| -> Vec<(&str, &str)> {
        let mut h = full.clone();
        h.remove(skip);
        h
    };
    let mut dup = full.clone();
    dup.push(("webhook-signature", SIG));
    let m = "signature_malformed";
    let s = [("sw", SECRET)];
    check(
        &VerifierConfig::StandardWebhooks,
        &[
            case(
                "no id",
                &s,
                &without(0),
                BODY,
                TS,
                reject("signature_missing"),
            ),
            case(
                "no timestamp",
                &s,
                &without(1),
                BODY,
                TS,
                reject("signature_missing"),
            ),
            case(
                "no signature",
                &s,
                &without(2),
                BODY,
                TS,
                reject("signature_missing"),
            ),
            case(
                "signature twice",
                &s,
                &dup,
                BODY,
                TS,
                reject("header_duplicated"),
            ),
            at("fractional timestamp", SIG, "1614265330.0", TS, reject(m)),
            at(
                "timestamp with exponent",
                SIG,
                "1.61426533e9",
                TS,
                reject(m),
            ),
            at("signed timestamp", SIG, "+1614265330", TS, reject(m)),
            at("word timestamp", SIG, "yesterday", TS, reject(m)),
        ],
    );
}
