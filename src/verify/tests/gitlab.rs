use super::{accept, case, check, reject, Case, Expect};
use crate::verify::VerifierConfig;

const TOKEN: &[u8] = b"glwht-3a8c0b7e5d9f41c2";
const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"object_kind":"push","ref":"refs/heads/main"}"#;

fn one(name: &'static str, headers: &[(&str, &str)], expect: Expect) -> Case {
    case(name, &[("gl", TOKEN)], headers, BODY, NOW, expect)
}

#[test]
fn accepts_the_gitlab_token_with_its_event_and_delivery_headers() {
    let token = std::str::from_utf8(TOKEN).unwrap();
    check(
        &VerifierConfig::Gitlab,
        &[
            one(
                "idempotency key preferred",
                &[
                    ("X-Gitlab-Token", token),
                    ("X-Gitlab-Event", "Push Hook"),
                    (
                        "X-Gitlab-Event-UUID",
                        "13792a34-cac6-4fda-95a8-c58e00a3954e",
                    ),
                    ("Idempotency-Key", "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"),
                ],
                accept("gl")
                    .dedup(Some("f5e5f430-f57b-4e6e-9fac-d9128cd7232f"))
                    .event(Some("Push Hook"))
                    .handshake(None),
            ),
            one(
                "event uuid without an idempotency key",
                &[
                    ("X-Gitlab-Token", token),
                    ("X-Gitlab-Event", "Merge Request Hook"),
                    (
                        "X-Gitlab-Event-UUID",
                        "13792a34-cac6-4fda-95a8-c58e00a3954e",
                    ),
                ],
                accept("gl")
                    .dedup(Some("13792a34-cac6-4fda-95a8-c58e00a3954e"))
                    .event(Some("Merge Request Hook")),
            ),
            one(
                "token alone",
                &[("X-Gitlab-Token", token)],
                accept("gl").dedup(None).event(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"previous-token"), ("new", TOKEN)],
                &[("X-Gitlab-Token", token)],
                BODY,
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_a_wrong_missing_or_repeated_gitlab_token() {
    let token = std::str::from_utf8(TOKEN).unwrap();
    let upper = token.to_ascii_uppercase();
    check(
        &VerifierConfig::Gitlab,
        &[
            one(
                "wrong token",
                &[("X-Gitlab-Token", "glwht-00000000000000")],
                reject("token_invalid"),
            ),
            one(
                "token prefix",
                &[("X-Gitlab-Token", &token[..10])],
                reject("token_invalid"),
            ),
            one(
                "token in another case",
                &[("X-Gitlab-Token", &upper)],
                reject("token_invalid"),
            ),
            one(
                "missing",
                &[("X-Gitlab-Event", "Push Hook")],
                reject("signature_missing"),
            ),
            one(
                "token header twice",
                &[("X-Gitlab-Token", token), ("X-Gitlab-Token", token)],
                reject("header_duplicated"),
            ),
            one(
                "idempotency key twice",
                &[
                    ("X-Gitlab-Token", token),
                    ("Idempotency-Key", "a"),
                    ("Idempotency-Key", "b"),
                ],
                reject("header_duplicated"),
            ),
        ],
    );
}
