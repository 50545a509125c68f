use super::{accept, case, check, hmac256, reject, Case};
use crate::verify::{Handshake, VerifierConfig};

// Published by GitHub: docs "Validating webhook deliveries".
const SECRET: &[u8] = b"It's a Secret to Everybody";
const BODY: &[u8] = b"Hello, World!";
const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const NOW: i64 = 1_700_000_000;

fn sig_header(sig: &str) -> [(&str, &str); 3] {
    [
        ("X-Hub-Signature-256", sig),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-GitHub-Event", "push"),
    ]
}

fn one(name: &'static str, headers: &[(&str, &str)], expect: super::Expect) -> Case {
    case(name, &[("gh", SECRET)], headers, BODY, NOW, expect)
}

#[test]
fn accepts_githubs_published_vector_with_delivery_and_event() {
    check(
        &VerifierConfig::Github,
        &[one(
            "published",
            &sig_header(SIG),
            accept("gh")
                .dedup(Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
                .event(Some("push"))
                .handshake(None),
        )],
    );
}

#[test]
fn accepts_github_signature_from_any_active_secret() {
    let both = [("old", b"wrong".as_slice()), ("new", SECRET)];
    let same = [("first", SECRET), ("second", SECRET)];
    check(
        &VerifierConfig::Github,
        &[
            case(
                "rotated second secret",
                &both,
                &sig_header(SIG),
                BODY,
                NOW,
                accept("new"),
            ),
            case(
                "both match: first recorded",
                &same,
                &sig_header(SIG),
                BODY,
                NOW,
                accept("first"),
            ),
            // No replay window for GitHub (SPEC §3.2): the clock plays no part.
            case(
                "any clock",
                &both,
                &sig_header(SIG),
                BODY,
                i64::MIN,
                accept("new"),
            ),
            one(
                "no delivery id",
                &[("X-Hub-Signature-256", SIG)],
                accept("gh").dedup(None).event(None),
            ),
        ],
    );
}

#[test]
fn rejects_tampered_github_body_and_wrong_secret() {
    let config = VerifierConfig::Github;
    let headers = sig_header(SIG);
    check(
        &config,
        &[
            case(
                "tampered body",
                &[("gh", SECRET)],
                &headers,
                b"Hello, World?",
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "wrong secret",
                &[("gh", b"It's a secret to everybody")],
                &headers,
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "empty body",
                &[("gh", SECRET)],
                &headers,
                b"",
                NOW,
                reject("signature_invalid"),
            ),
        ],
    );
}

#[test]
fn rejects_upper_case_github_hex_like_octokit() {
    // @octokit/webhooks-methods 6.0.0 compares `sha256=<lower hex>` as a string.
    let upper = format!("sha256={}", SIG["sha256=".len()..].to_uppercase());
    check(
        &VerifierConfig::Github,
        &[one(
            "upper hex",
            &sig_header(&upper),
            reject("signature_invalid"),
        )],
    );
}

#[test]
fn rejects_garbled_github_signature_headers() {
    let hex = &SIG["sha256=".len()..];
    let short = &SIG[..SIG.len() - 2];
    let upper_prefix = format!("SHA256={hex}");
    let sha1 = format!("sha1={}", &hex[..40]);
    let inner_space = format!("sha256= {}", &hex[1..]);
    let trailing = format!("{SIG},sha256={hex}");
    let not_hex = format!("sha256={}zz", &hex[2..]);
    let m = "signature_malformed";
    check(
        &VerifierConfig::Github,
        &[
            one(
                "missing",
                &[("X-GitHub-Event", "push")],
                reject("signature_missing"),
            ),
            one(
                "empty",
                &[("X-Hub-Signature-256", "")],
                reject("signature_missing"),
            ),
            one("short", &[("X-Hub-Signature-256", short)], reject(m)),
            one(
                "prefix is case-sensitive",
                &[("X-Hub-Signature-256", &upper_prefix)],
                reject(m),
            ),
            one(
                "sha1 in the sha256 header",
                &[("X-Hub-Signature-256", &sha1)],
                reject(m),
            ),
            one(
                "space after prefix",
                &[("X-Hub-Signature-256", &inner_space)],
                reject(m),
            ),
            one(
                "two signatures in one line",
                &[("X-Hub-Signature-256", &trailing)],
                reject(m),
            ),
            one("not hex", &[("X-Hub-Signature-256", &not_hex)], reject(m)),
            one("bare hex", &[("X-Hub-Signature-256", hex)], reject(m)),
            // RFC 9110 OWS is not part of the value; servers strip it.
            one(
                "surrounding whitespace",
                &[("X-Hub-Signature-256", &format!(" {SIG}\t"))],
                accept("gh"),
            ),
        ],
    );
}

#[test]
fn rejects_github_legacy_sha1_signature_alone() {
    let legacy = (
        "X-Hub-Signature",
        "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6",
    );
    check(
        &VerifierConfig::Github,
        &[
            one(
                "legacy alone",
                &[legacy],
                reject("signature_legacy_unsupported"),
            ),
            one(
                "legacy beside sha256",
                &[legacy, ("X-Hub-Signature-256", SIG)],
                accept("gh"),
            ),
        ],
    );
}

#[test]
fn rejects_duplicate_github_headers() {
    let other = format!("sha256={}", hex::encode(hmac256(b"other", &[BODY])));
    let d = "header_duplicated";
    check(
        &VerifierConfig::Github,
        &[
            one(
                "two signatures",
                &[
                    ("X-Hub-Signature-256", SIG),
                    ("X-Hub-Signature-256", &other),
                ],
                reject(d),
            ),
            one(
                "same signature twice",
                &[("X-Hub-Signature-256", SIG), ("X-Hub-Signature-256", SIG)],
                reject(d),
            ),
            one(
                "two events",
                &[
                    ("X-Hub-Signature-256", SIG),
                    ("X-GitHub-Event", "push"),
                    ("X-GitHub-Event", "ping"),
                ],
                reject(d),
            ),
            one(
                "two deliveries",
                &[
                    ("X-Hub-Signature-256", SIG),
                    ("X-GitHub-Delivery", "a"),
                    ("X-GitHub-Delivery", "b"),
                ],
                reject(d),
            ),
        ],
    );
}

#[test]
fn answers_github_ping_as_handshake_only_when_signed() {
    let ping = [("X-Hub-Signature-256", SIG), ("X-GitHub-Event", "ping")];
    check(
        &VerifierConfig::Github,
        &[
            one(
                "signed ping",
                &ping,
                accept("gh")
                    .event(Some("ping"))
                    .handshake(Some(Handshake::GithubPing)),
            ),
            case(
                "forged ping",
                &[("gh", b"nope")],
                &ping,
                BODY,
                NOW,
                reject("signature_invalid"),
            ),
        ],
    );
}
