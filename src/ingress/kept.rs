//! The request headers an ingress event keeps for the event log (SPEC §11): every
//! header but credentials, with each verifier's signature or token headers redacted,
//! so an SRE reads what the sender sent without anything that could forge it.

use crate::verify::VerifierConfig;
use http::HeaderMap;

/// Credentials of any request: never kept, whatever the verifier.
const DROPPED: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// What a redacted value reads as.
pub const REDACTED: &str = "[redacted]";

/// The headers whose values prove the request under `verifier` (lower case).
pub fn credential_headers(verifier: &VerifierConfig) -> Vec<String> {
    verifier.signature_headers()
}

/// Every header of the request, lower-cased, repeated ones joined with `, `: dropped
/// if a credential, `"[redacted]"` if named in `redacted`, text with bytes that are not
/// UTF-8 replaced.
pub fn kept_headers(
    headers: &HeaderMap,
    redacted: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    let mut kept = serde_json::Map::new();
    for name in headers.keys() {
        let name = name.as_str();
        if DROPPED.contains(&name) {
            continue;
        }
        let value = if redacted.iter().any(|r| r == name) {
            REDACTED.to_owned()
        } else {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            values.join(", ")
        };
        kept.insert(name.to_owned(), value.into());
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn credentials_are_dropped_signatures_redacted_and_the_rest_kept() {
        let cases: [(&str, &[u8], Option<&str>); 8] = [
            ("X-GitHub-Delivery", b"72d3162e", Some("72d3162e")),
            ("X-Hub-Signature-256", b"sha256=abc", Some(REDACTED)),
            ("X-Hub-Signature", b"sha1=abc", Some(REDACTED)),
            ("Authorization", b"Bearer t", None),
            ("Cookie", b"s=1", None),
            ("Proxy-Authorization", b"Basic x", None),
            (
                "User-Agent",
                b"GitHub-Hookshot/1",
                Some("GitHub-Hookshot/1"),
            ),
            ("X-Odd", b"caf\xe9", Some("caf\u{fffd}")),
        ];
        let request = headers(&cases.map(|(name, value, _)| (name, value)));
        let kept = kept_headers(&request, &credential_headers(&VerifierConfig::Github));
        for (name, _, expected) in cases {
            let got = kept
                .get(&name.to_ascii_lowercase())
                .and_then(|v| v.as_str());
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(kept.len(), 5);
    }

    #[test]
    fn repeated_headers_are_joined_and_a_bearer_sources_token_header_redacted() {
        let request = headers(&[("x-token", b"secret"), ("accept", b"a"), ("accept", b"b")]);
        let bearer: VerifierConfig =
            serde_json::from_value(serde_json::json!({"type": "bearer", "header": "X-Token"}))
                .unwrap();
        let kept = kept_headers(&request, &credential_headers(&bearer));
        assert_eq!(kept["x-token"], REDACTED);
        assert_eq!(kept["accept"], "a, b");
        let hmac: VerifierConfig = serde_json::from_value(
            serde_json::json!({"type": "hmac", "header": "X-Token", "encoding": "hex"}),
        )
        .unwrap();
        assert_eq!(credential_headers(&hmac), ["x-token"]);
    }
}
