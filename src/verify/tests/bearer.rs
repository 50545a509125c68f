use super::{accept, case, check, reject, Case, Expect};
use crate::verify::{BearerConfig, VerifierConfig};

const TOKEN: &[u8] = b"s3cr3t-t0ken";
const NOW: i64 = 1_700_000_000;

fn auth(name: &'static str, value: &str, expect: Expect) -> Case {
    case(
        name,
        &[("tk", TOKEN)],
        &[("Authorization", value)],
        b"{}",
        NOW,
        expect,
    )
}

#[test]
fn accepts_bearer_token_in_authorization() {
    check(
        &VerifierConfig::Bearer(BearerConfig::default()),
        &[
            auth(
                "canonical",
                "Bearer s3cr3t-t0ken",
                accept("tk").dedup(None).event(None),
            ),
            // RFC 7235: the scheme is case-insensitive; RFC 6750: 1*SP before the token.
            auth("lower-case scheme", "bearer s3cr3t-t0ken", accept("tk")),
            auth("two spaces", "Bearer  s3cr3t-t0ken", accept("tk")),
            case(
                "rotated second",
                &[("old", b"old-token"), ("new", TOKEN)],
                &[("Authorization", "Bearer s3cr3t-t0ken")],
                b"",
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_wrong_or_malformed_bearer_tokens() {
    let m = "signature_malformed";
    check(
        &VerifierConfig::Bearer(BearerConfig::default()),
        &[
            auth(
                "wrong token",
                "Bearer s3cr3t-t0kem",
                reject("token_invalid"),
            ),
            auth(
                "prefix of the token",
                "Bearer s3cr3t",
                reject("token_invalid"),
            ),
            auth(
                "token plus suffix",
                "Bearer s3cr3t-t0ken2",
                reject("token_invalid"),
            ),
            auth("basic scheme", "Basic czNjcjN0LXQwa2Vu", reject(m)),
            auth("scheme only", "Bearer", reject(m)),
            auth("raw token", "s3cr3t-t0ken", reject(m)),
            auth("two tokens", "Bearer s3cr3t-t0ken s3cr3t-t0ken", reject(m)),
            case(
                "missing",
                &[("tk", TOKEN)],
                &[],
                b"",
                NOW,
                reject("signature_missing"),
            ),
            case(
                "two lines",
                &[("tk", TOKEN)],
                &[
                    ("Authorization", "Bearer s3cr3t-t0ken"),
                    ("Authorization", "Bearer other"),
                ],
                b"",
                NOW,
                reject("header_duplicated"),
            ),
            case(
                "no secret",
                &[],
                &[("Authorization", "Bearer s3cr3t-t0ken")],
                b"",
                NOW,
                reject("no_active_secret"),
            ),
        ],
    );
}

#[test]
fn reads_raw_token_and_metadata_from_configured_headers() {
    let config = VerifierConfig::Bearer(BearerConfig {
        header: "X-Hook-Token".to_owned(),
        dedup_header: Some("X-Request-Id".to_owned()),
        event_header: Some("X-Event-Type".to_owned()),
    });
    let s = [("tk", TOKEN)];
    check(
        &config,
        &[
            case(
                "raw token",
                &s,
                &[
                    ("X-Hook-Token", "s3cr3t-t0ken"),
                    ("X-Request-Id", "r-1"),
                    ("X-Event-Type", "build"),
                ],
                b"",
                NOW,
                accept("tk").dedup(Some("r-1")).event(Some("build")),
            ),
            case(
                "bearer prefix is part of a raw token",
                &s,
                &[("X-Hook-Token", "Bearer s3cr3t-t0ken")],
                b"",
                NOW,
                reject("token_invalid"),
            ),
            case(
                "authorization ignored",
                &s,
                &[("Authorization", "Bearer s3cr3t-t0ken")],
                b"",
                NOW,
                reject("signature_missing"),
            ),
            case(
                "two request ids",
                &s,
                &[
                    ("X-Hook-Token", "s3cr3t-t0ken"),
                    ("X-Request-Id", "1"),
                    ("X-Request-Id", "2"),
                ],
                b"",
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
