//! Which of a sender's headers travel with its run to the workflow (SPEC §4).

use std::collections::HashSet;
use std::sync::LazyLock;

use http::HeaderMap;

use crate::verify::VerifierKind;

/// Headers worth passing to the workflow whoever the sender is.
const COMMON_HEADERS: &[&str] = &["content-type", "user-agent"];

/// The common headers and every scheme's forwarded ones, lower-cased as a
/// [`HeaderMap`] holds its names.
static FORWARDED: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let senders = VerifierKind::ALL
        .iter()
        .flat_map(|kind| kind.forwarded_headers());
    COMMON_HEADERS
        .iter()
        .chain(senders)
        .map(|name| name.to_ascii_lowercase())
        .collect()
});

/// The forwarded headers present in `headers`, plus `extra` names (a source's configured
/// event or de-dup header), lower-cased. Values that are not text are skipped; of a
/// header sent twice, the first value counts.
///
/// Forwarded are the common headers and every scheme's
/// [`forwarded_headers`](VerifierKind::forwarded_headers), whatever the source's scheme
/// (a `bearer` source may well receive GitHub's). Signatures and credentials are never
/// on these lists (`verify`'s tests hold every scheme to that).
///
/// The request's own names are checked against the list, not the list's names looked
/// up in the request: 22 schemes forward ~57 names, and looking each one up by text
/// (parsed and hashed every time) was ~7 % of the instructions hookgate ran per webhook
/// (callgrind).
pub fn forwarded_headers(
    headers: &HeaderMap,
    extra: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let mut selected = serde_json::Map::new();
    for name in headers.keys() {
        let name_text = name.as_str();
        let wanted = FORWARDED.contains(name_text)
            || extra.iter().any(|e| e.eq_ignore_ascii_case(name_text));
        if !wanted {
            continue;
        }
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            selected.insert(name_text.to_owned(), value.into());
        }
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_headers_are_forwarded_never_signatures() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", "push".parse().unwrap());
        headers.insert("x-hub-signature-256", "sha256=abc".parse().unwrap());
        headers.insert("authorization", "Bearer t".parse().unwrap());
        headers.insert("x-custom-event", "e".parse().unwrap());
        let selected = forwarded_headers(&headers, &["X-Custom-Event"]);
        assert_eq!(selected.len(), 2);
        assert_eq!(selected["x-github-event"], "push");
        assert_eq!(selected["x-custom-event"], "e");
    }

    #[test]
    fn forwarded_headers_are_those_each_listed_name_finds_by_lookup() {
        let mut headers = HeaderMap::new();
        headers.append("content-type", "application/json".parse().unwrap());
        headers.append("x-github-event", "push".parse().unwrap());
        headers.append("x-github-event", "second".parse().unwrap());
        headers.append(
            "x-slack-retry-num",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        headers.append("x-slack-retry-num", "1".parse().unwrap());
        headers.append("stripe-signature", "t=1,v1=ab".parse().unwrap());
        headers.append("x-my-dedup", "k1".parse().unwrap());
        let extra = ["X-My-Dedup", "X-Absent"];
        // One lookup per listed name, as a reference.
        let mut expected = serde_json::Map::new();
        let senders = VerifierKind::ALL.iter().flat_map(|k| k.forwarded_headers());
        for name in COMMON_HEADERS.iter().chain(senders).chain(extra.iter()) {
            if let Some(value) = headers.get(*name).and_then(|v| v.to_str().ok()) {
                expected.insert(name.to_ascii_lowercase(), value.into());
            }
        }
        assert_eq!(forwarded_headers(&headers, &extra), expected);
        assert_eq!(expected["x-github-event"], "push", "the first value");
        assert!(
            !expected.contains_key("x-slack-retry-num"),
            "first value not text"
        );
        assert!(!expected.contains_key("stripe-signature"));
    }
}
