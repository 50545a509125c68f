use super::{accept, case, check, reject, Case, Expect};
use crate::verify::{Handshake, VerifierConfig};

// RFC 8032 §7.1 test 2: public key, message "r" (0x72), signature. Sent as Discord
// would, the timestamp "r" followed by an empty body is that message.
const RFC_PUBLIC: &[u8] = b"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const RFC_SIG: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

// A PING signed with PyNaCl by the RFC 8032 test 1 key (tests/vectors/discord.json).
const PUBLIC: &[u8] = b"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PING: &[u8] = br#"{"application_id":"11","id":"786008729715212339","token":"A_UNIQUE_TOKEN","type":1,"version":1}"#;
const PING_SIG: &str = "f9e32f9bf65a0f0fc5508d25b37e539bd402641caa99512c7702701219ed8ef1cc3e732d53a85eb6baf76cd9b06d10b19700c821805ccf6bba8229359e50730f";
const TS: &str = "1700000000";
const NOW: i64 = 1_700_000_000;

fn ping(name: &'static str, sig: &str, ts: &str, body: &[u8], expect: Expect) -> Case {
    let headers = [("X-Signature-Ed25519", sig), ("X-Signature-Timestamp", ts)];
    case(name, &[("dc", PUBLIC)], &headers, body, NOW, expect)
}

#[test]
fn accepts_rfc_8032_signature_and_answers_a_ping_without_a_run() {
    let rfc = [
        ("X-Signature-Ed25519", RFC_SIG),
        ("X-Signature-Timestamp", "r"),
    ];
    check(
        &VerifierConfig::Discord,
        &[
            case(
                "rfc 8032 test 2",
                &[("rfc", RFC_PUBLIC)],
                &rfc,
                b"",
                NOW,
                accept("rfc").dedup(None).event(None),
            ),
            ping(
                "ping",
                PING_SIG,
                TS,
                PING,
                accept("dc")
                    .dedup(Some("786008729715212339"))
                    .event(Some("ping"))
                    .handshake(Some(Handshake::DiscordPing)),
            ),
            // hex of either case, as bytes.fromhex reads it; no replay window.
            ping(
                "upper-case signature",
                &PING_SIG.to_uppercase(),
                TS,
                PING,
                accept("dc"),
            ),
            case(
                "upper-case key",
                &[(
                    "dc",
                    b"D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A",
                )],
                &[
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Timestamp", TS),
                ],
                PING,
                0,
                accept("dc"),
            ),
            case(
                "second key",
                &[("rfc", RFC_PUBLIC), ("dc", PUBLIC)],
                &[
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Timestamp", TS),
                ],
                PING,
                NOW,
                accept("dc"),
            ),
        ],
    );
}

#[test]
fn rejects_discord_tampering_wrong_key_and_garbled_headers() {
    let mut flipped = PING_SIG.to_owned().into_bytes();
    flipped[0] = b'e';
    let flipped = String::from_utf8(flipped).unwrap();
    check(
        &VerifierConfig::Discord,
        &[
            ping(
                "tampered body",
                PING_SIG,
                TS,
                &PING[..PING.len() - 1],
                reject("signature_invalid"),
            ),
            ping(
                "other timestamp",
                PING_SIG,
                "1700000001",
                PING,
                reject("signature_invalid"),
            ),
            ping(
                "flipped signature",
                &flipped,
                TS,
                PING,
                reject("signature_invalid"),
            ),
            case(
                "wrong key",
                &[("rfc", RFC_PUBLIC)],
                &[
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Timestamp", TS),
                ],
                PING,
                NOW,
                reject("signature_invalid"),
            ),
            case(
                "not a key",
                &[("x", b"not a public key")],
                &[
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Timestamp", TS),
                ],
                PING,
                NOW,
                reject("secret_unusable"),
            ),
            ping(
                "truncated",
                &PING_SIG[..126],
                TS,
                PING,
                reject("signature_malformed"),
            ),
            ping(
                "not hex",
                &"zz".repeat(64),
                TS,
                PING,
                reject("signature_malformed"),
            ),
            case(
                "missing signature",
                &[("dc", PUBLIC)],
                &[("X-Signature-Timestamp", TS)],
                PING,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "missing timestamp",
                &[("dc", PUBLIC)],
                &[("X-Signature-Ed25519", PING_SIG)],
                PING,
                NOW,
                reject("signature_missing"),
            ),
            case(
                "twice",
                &[("dc", PUBLIC)],
                &[
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Ed25519", PING_SIG),
                    ("X-Signature-Timestamp", TS),
                ],
                PING,
                NOW,
                reject("header_duplicated"),
            ),
        ],
    );
}

#[test]
fn names_interaction_types_and_reads_no_handshake_from_other_bodies() {
    use ed25519_dalek::{Signer, SigningKey};
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let public: &'static [u8] = Box::leak(public.into_bytes().into_boxed_slice());
    let cases: Vec<Case> = [
        (&br#"{"id":"1","type":2}"#[..], Some("application_command")),
        (br#"{"id":"1","type":5}"#, Some("modal_submit")),
        (br#"{"id":"1","type":9}"#, None),
        (br#"{"id":"1","type":"1"}"#, None),
        (b"not json", None),
    ]
    .into_iter()
    .map(|(body, name)| {
        let sig = hex::encode(key.sign(&[TS.as_bytes(), body].concat()).to_bytes());
        let headers = [
            ("X-Signature-Ed25519", sig.as_str()),
            ("X-Signature-Timestamp", TS),
        ];
        case(
            "typed",
            &[("k", public)],
            &headers,
            body,
            NOW,
            accept("k").event(name).handshake(None),
        )
    })
    .collect();
    check(&VerifierConfig::Discord, &cases);
}
