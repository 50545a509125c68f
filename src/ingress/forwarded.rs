//! Which of a sender's headers travel with its run to the workflow (SPEC §4).

use http::HeaderMap;

use crate::verify::VerifierKind;

/// Headers worth passing to the workflow whoever the sender is.
const COMMON_HEADERS: &[&str] = &["content-type", "user-agent"];

/// The forwarded headers present in `headers`, plus `extra` names (a source's configured
/// event or de-dup header), lower-cased. Values that are not text are skipped.
///
/// Forwarded are the common headers and every scheme's
/// [`forwarded_headers`](VerifierKind::forwarded_headers), whatever the source's scheme
/// (a `bearer` source may well receive GitHub's). Signatures and credentials are never
/// on these lists (`verify`'s tests hold every scheme to that).
pub fn forwarded_headers(
    headers: &HeaderMap,
    extra: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let mut selected = serde_json::Map::new();
    let senders = VerifierKind::ALL
        .iter()
        .flat_map(|kind| kind.forwarded_headers());
    let wanted = COMMON_HEADERS
        .iter()
        .chain(senders)
        .copied()
        .chain(extra.iter().copied());
    for name in wanted {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            selected.insert(name.to_ascii_lowercase(), value.into());
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
}
