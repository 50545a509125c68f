use super::{accept, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

const SECRET: &[u8] = b"It's a Secret to Everybody";
const NOW: i64 = 1_700_000_000;
const JIRA: &[u8] = br#"{"timestamp":1700000000000,"webhookEvent":"jira:issue_created","issue_event_type_name":"issue_created","issue":{"id":"10001","key":"HG-1"}}"#;
const BITBUCKET: &[u8] = br#"{"push":{"changes":[]},"repository":{"full_name":"team/repo"}}"#;

fn sig(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac256(secret, &[body])))
}

fn one(name: &'static str, headers: &[(&str, &str)], body: &[u8], expect: Expect) -> Case {
    case(name, &[("at", SECRET)], headers, body, NOW, expect)
}

#[test]
fn accepts_jira_and_bitbucket_signatures_with_their_ids_and_events() {
    let jira = sig(SECRET, JIRA);
    let bitbucket = sig(SECRET, BITBUCKET);
    check(
        &VerifierConfig::Atlassian,
        &[
            one(
                "jira: event in the body",
                &[
                    ("X-Hub-Signature", &jira),
                    ("X-Atlassian-Webhook-Identifier", "1042-1700000000000"),
                    ("X-Atlassian-Webhook-Retry", "0"),
                ],
                JIRA,
                accept("at")
                    .dedup(Some("1042-1700000000000"))
                    .event(Some("jira:issue_created"))
                    .handshake(None),
            ),
            one(
                "bitbucket: event header",
                &[
                    ("X-Hub-Signature", &bitbucket),
                    ("X-Event-Key", "repo:push"),
                    ("X-Request-UUID", "e8d1d8a4-6d8d-4f4d-8b3c-2f1f5c3d0e11"),
                ],
                BITBUCKET,
                accept("at")
                    .dedup(Some("e8d1d8a4-6d8d-4f4d-8b3c-2f1f5c3d0e11"))
                    .event(Some("repo:push")),
            ),
            one(
                "the header wins over the body",
                &[("X-Hub-Signature", &jira), ("X-Event-Key", "repo:push")],
                JIRA,
                accept("at").dedup(None).event(Some("repo:push")),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("X-Hub-Signature", &jira)],
                JIRA,
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_atlassian_tampering_and_other_spellings() {
    let good = sig(SECRET, JIRA);
    let hex = &good[7..];
    check(
        &VerifierConfig::Atlassian,
        &[
            one(
                "tampered",
                &[("X-Hub-Signature", &good)],
                BITBUCKET,
                reject("signature_invalid"),
            ),
            one(
                "wrong secret",
                &[("X-Hub-Signature", &sig(b"other", JIRA))],
                JIRA,
                reject("signature_invalid"),
            ),
            one(
                "upper-case hex",
                &[(
                    "X-Hub-Signature",
                    &format!("sha256={}", hex.to_ascii_uppercase()),
                )],
                JIRA,
                reject("signature_invalid"),
            ),
            one(
                "sha1 method",
                &[("X-Hub-Signature", &format!("sha1={hex}"))],
                JIRA,
                reject("signature_invalid"),
            ),
            one(
                "missing",
                &[("X-Event-Key", "repo:push")],
                JIRA,
                reject("signature_missing"),
            ),
            one(
                "twice",
                &[("X-Hub-Signature", &good), ("X-Hub-Signature", &good)],
                JIRA,
                reject("header_duplicated"),
            ),
        ],
    );
}
