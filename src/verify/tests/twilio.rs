use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{accept, b64, case, check, hmac256, reject, Case, Expect};
use crate::verify::VerifierConfig;

// twilio-python tests/unit/test_request_validator.py: token, URL, parameters and the
// signatures the library is tested against.
const TOKEN: &[u8] = b"12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const FORM: &[u8] =
    b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
const SIG: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
const JSON: &[u8] = br#"{"property": "value", "boolean": true}"#;
const JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const JSON_SIG: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";
const NOW: i64 = 1_700_000_000;
/// The parameters as signed after the URL: sorted, each name then its value, decoded.
const PARAMS: &str =
    "CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212";

/// HMAC-SHA1 in base64, computed here independently of the code under test.
fn sha1_b64(key: &[u8], text: &[u8]) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
    mac.update(text);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn one(name: &'static str, sig: &str, body: &[u8], url: &str, expect: Expect) -> Case {
    let headers = [
        ("X-Twilio-Signature", sig),
        ("I-Twilio-Idempotency-Token", "idem-1"),
    ];
    case(name, &[("tw", TOKEN)], &headers, body, NOW, expect).at(url)
}

#[test]
fn accepts_twilios_published_form_and_json_signatures() {
    assert_eq!(sha1_b64(TOKEN, format!("{URL}{PARAMS}").as_bytes()), SIG);
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    check(
        &VerifierConfig::Twilio,
        &[
            one(
                "form",
                SIG,
                FORM,
                URL,
                accept("tw").dedup(Some("idem-1")).event(None),
            ),
            one("json", JSON_SIG, JSON, JSON_URL, accept("tw")),
            // Twilio signs the URL with or without the port: both are tried.
            one("default port given", SIG, FORM, with_port, accept("tw")),
            one(
                "signed with the port",
                &sha1_b64(TOKEN, format!("{with_port}{PARAMS}").as_bytes()),
                FORM,
                URL,
                accept("tw"),
            ),
            // Any clock: Twilio signs no time.
            case(
                "no clock",
                &[("tw", TOKEN)],
                &[("X-Twilio-Signature", SIG)],
                FORM,
                0,
                accept("tw").dedup(None),
            )
            .at(URL),
        ],
    );
}

#[test]
fn accepts_twilio_signature_from_rotated_second_token_and_sha256_shared_key() {
    let sha256 = b64(&hmac256(TOKEN, &[URL.as_bytes(), PARAMS.as_bytes()]));
    let settings = [
        ("X-Twilio-Signature", sha256.as_str()),
        (
            "X-Twilio-Webhooks-Signature-Settings",
            "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
        ),
    ];
    check(
        &VerifierConfig::Twilio,
        &[
            case(
                "second",
                &[("old", b"old-token"), ("new", TOKEN)],
                &[("X-Twilio-Signature", SIG)],
                FORM,
                NOW,
                accept("new"),
            )
            .at(URL),
            case(
                "sha256",
                &[("tw", TOKEN)],
                &settings,
                FORM,
                NOW,
                accept("tw"),
            )
            .at(URL),
            case(
                "sha256 signature read as sha1",
                &[("tw", TOKEN)],
                &settings[..1],
                FORM,
                NOW,
                reject("signature_invalid"),
            )
            .at(URL),
        ],
    );
}

#[test]
fn rejects_twilio_tampering_wrong_token_other_url_and_garbled_headers() {
    let reordered: Vec<&[u8]> = FORM.split(|b| *b == b'&').rev().collect();
    let reordered = reordered.join(&b'&');
    check(
        &VerifierConfig::Twilio,
        &[
            one(
                "parameter order is not signed",
                SIG,
                &reordered,
                URL,
                accept("tw"),
            ),
            one(
                "tampered parameter",
                SIG,
                &FORM.replace_digits(),
                URL,
                reject("signature_invalid"),
            ),
            one(
                "tampered json",
                JSON_SIG,
                br#"{"property": "value", "boolean": false}"#,
                JSON_URL,
                reject("signature_invalid"),
            ),
            one(
                "json without its bodySHA256",
                JSON_SIG,
                JSON,
                URL,
                reject("signature_invalid"),
            ),
            one(
                "other url",
                SIG,
                FORM,
                "https://mycompany.com/myapp.php?foo=1",
                reject("signature_invalid"),
            ),
            // Without its port the URL is the one signed, as the library tries it.
            one(
                "called on another port",
                SIG,
                FORM,
                "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                accept("tw"),
            ),
            one(
                "other host",
                SIG,
                FORM,
                "https://mycompany.org/myapp.php?foo=1&bar=2",
                reject("signature_invalid"),
            ),
            one(
                "unpadded",
                SIG.trim_end_matches('='),
                FORM,
                URL,
                reject("signature_invalid"),
            ),
            one(
                "not base64",
                "0/KCTR6DLpKmkAf8muzZqo1nDgQ!",
                FORM,
                URL,
                reject("signature_invalid"),
            ),
            case(
                "wrong token",
                &[("tw", b"54321")],
                &[("X-Twilio-Signature", SIG)],
                FORM,
                NOW,
                reject("signature_invalid"),
            )
            .at(URL),
            case(
                "missing",
                &[("tw", TOKEN)],
                &[],
                FORM,
                NOW,
                reject("signature_missing"),
            )
            .at(URL),
            case(
                "twice",
                &[("tw", TOKEN)],
                &[("X-Twilio-Signature", SIG), ("X-Twilio-Signature", SIG)],
                FORM,
                NOW,
                reject("header_duplicated"),
            )
            .at(URL),
            case(
                "unknown algorithm",
                &[("tw", TOKEN)],
                &[
                    ("X-Twilio-Signature", SIG),
                    ("X-Twilio-Webhooks-Signature-Settings", "algorithm=HMAC_MD5"),
                ],
                FORM,
                NOW,
                reject("signature_version_unsupported"),
            )
            .at(URL),
        ],
    );
}

trait ReplaceDigits {
    fn replace_digits(&self) -> Vec<u8>;
}

impl ReplaceDigits for [u8] {
    /// The form with `Digits=1234` changed to `Digits=1235`.
    fn replace_digits(&self) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("Digits=1234", "Digits=1235")
            .into_bytes()
    }
}

#[test]
fn body_sha256_is_read_from_the_query_as_form_urlencoded_reads_it() {
    let reference = |url: &str| {
        let query = url.split_once('?')?.1;
        let query = query.split_once('#').map_or(query, |(query, _)| query);
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| name == "bodySHA256" && !value.is_empty())
            .map(|(_, value)| value.into_owned())
    };
    for url in [
        "https://h/p",
        "https://h/p?",
        "https://h/p?bodySHA256=ab",
        "https://h/p?a=1&&bodySHA256=ab&bodySHA256=cd",
        "https://h/p?bodySHA256=&bodySHA256=cd",
        "https://h/p?bodySHA256&bodySHA256=cd",
        "https://h/p?body%53HA256=a%62",
        "https://h/p?bodySHA256=a+b#bodySHA256=x",
        "https://h/p?bodySHA256%3Dab=cd",
        "https://h/p?x=%ff&bodySHA256=%e2%82%ac",
        "https://h/p?bodySHA256=%zz",
        "https://h/p?=ab&bodySHA256==ab",
    ] {
        assert_eq!(
            crate::verify::twilio::body_sha256(url).map(|value| value.into_owned()),
            reference(url),
            "{url}"
        );
    }
}
