//! Which of a sender's headers travel with its run to the workflow (SPEC §4).

use http::HeaderMap;

/// Sender headers worth passing to the workflow. Signatures and credentials are never
/// on this list.
const FORWARDED_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-webhook-id",
    "x-shopify-api-version",
    "x-shopify-triggered-at",
    "x-shopify-event-id",
    "webhook-id",
    "webhook-timestamp",
    "svix-id",
    "svix-timestamp",
    "x-slack-request-timestamp",
    "x-slack-retry-num",
    "x-slack-retry-reason",
];

/// The forwarded headers present in `headers`, plus `extra` names (a source's configured
/// event or de-dup header), lower-cased. Values that are not text are skipped.
pub fn forwarded_headers(
    headers: &HeaderMap,
    extra: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let mut selected = serde_json::Map::new();
    let wanted = FORWARDED_HEADERS
        .iter()
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
