use super::{accept, case, check, hmac1, reject, Case, Expect};
use crate::verify::VerifierConfig;

const SECRET: &[u8] = b"9a1b6a3c-client-secret";
const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"type":"notification_event","app_id":"a1b2c3","data":{"type":"notification_event_data","item":{"type":"conversation","id":"147"}},"id":"notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3","topic":"conversation.user.created","delivery_attempts":1,"first_sent_at":1700000000}"#;

fn sig(secret: &[u8], body: &[u8]) -> String {
    format!("sha1={}", hex::encode(hmac1(secret, &[body])))
}

fn one(name: &'static str, value: &str, body: &[u8], expect: Expect) -> Case {
    case(
        name,
        &[("ic", SECRET)],
        &[("X-Hub-Signature", value)],
        body,
        NOW,
        expect,
    )
}

#[test]
fn accepts_intercoms_sha1_signature_with_the_notification_id_and_topic() {
    check(
        &VerifierConfig::Intercom,
        &[
            one(
                "valid",
                &sig(SECRET, BODY),
                BODY,
                accept("ic")
                    .dedup(Some("notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3"))
                    .event(Some("conversation.user.created"))
                    .handshake(None),
            ),
            one(
                "not json: no id, no topic",
                &sig(SECRET, b"plain"),
                b"plain",
                accept("ic").dedup(None).event(None),
            ),
            case(
                "rotated second secret",
                &[("old", b"other"), ("new", SECRET)],
                &[("X-Hub-Signature", &sig(SECRET, BODY))],
                BODY,
                NOW,
                accept("new"),
            ),
        ],
    );
}

#[test]
fn rejects_intercom_tampering_and_other_spellings() {
    let good = sig(SECRET, BODY);
    let hex = &good[5..];
    check(
        &VerifierConfig::Intercom,
        &[
            one("tampered", &good, b"{}", reject("signature_invalid")),
            one(
                "wrong secret",
                &sig(b"other", BODY),
                BODY,
                reject("signature_invalid"),
            ),
            one(
                "upper-case hex",
                &format!("sha1={}", hex.to_ascii_uppercase()),
                BODY,
                reject("signature_invalid"),
            ),
            one(
                "sha256 prefix",
                &format!("sha256={hex}"),
                BODY,
                reject("signature_invalid"),
            ),
            one("no prefix", hex, BODY, reject("signature_invalid")),
            one("truncated", &good[..40], BODY, reject("signature_invalid")),
            case(
                "missing",
                &[("ic", SECRET)],
                &[("X-Hub-Signature-256", &good)],
                BODY,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "twice",
                &[("ic", SECRET)],
                &[("X-Hub-Signature", &good), ("X-Hub-Signature", &good)],
                BODY,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}
