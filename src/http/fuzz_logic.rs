//! The body of the `edge_input` fuzz target (`fuzz/fuzz_targets/edge_input.rs`), kept
//! here so the stable test suite replays its seed corpus through the same code. Must
//! not panic on any input; the `assert!`s state the invariants.

use super::client_address::client_address;
use crate::cidr::Cidr;
use http::{HeaderMap, HeaderValue};
use std::net::{IpAddr, Ipv4Addr};

/// The first line is an `X-Forwarded-For` value, the rest a JSON document: what a
/// client controls of the access log's address and of the text checked for NUL.
pub fn edge_input(data: &[u8]) {
    let (forwarded, json) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    forwarded_for(forwarded);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) {
        let found = crate::storable::nul_in_json(&value, "");
        let serialized = value.to_string();
        assert_eq!(found.is_some(), escapes_nul(&serialized), "{serialized}");
        if let Some(path) = found {
            assert!(
                !path.contains('\0'),
                "a path names the field without its NUL"
            );
        }
    }
}

/// Whether serialized JSON spells a NUL: serde_json writes it `\u0000`, and that is an
/// escape only when an odd run of backslashes leads to the `u` (`\\u0000` is a
/// backslash followed by the text `u0000`).
fn escapes_nul(serialized: &str) -> bool {
    let bytes = serialized.as_bytes();
    serialized.match_indices("u0000").any(|(at, _)| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        backslashes % 2 == 1
    })
}

fn forwarded_for(value: &[u8]) {
    let Ok(header) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", header);
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let trusted: Vec<Cidr> = ["127.0.0.0/8", "10.0.0.0/8"]
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let client = client_address(Some(peer), &headers, &trusted);
    let Some(client) = client else {
        panic!("a known peer always gives an address");
    };
    // Either the peer itself or an address the header spelled.
    let text = String::from_utf8_lossy(value);
    let spelled = text.split(',').any(|hop| {
        let hop = hop.trim();
        hop.parse::<IpAddr>().ok() == Some(client)
            || hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()) == Some(client)
            || hop
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
                == Some(client)
    });
    assert!(client == peer || spelled, "{client} from {text:?}");
    // Nobody trusted is ever skipped past: an untrusted peer is the client.
    let untrusted = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    assert_eq!(
        client_address(Some(untrusted), &headers, &trusted),
        Some(untrusted)
    );
}

/// The console's reading of what a browser sends (`http/console/session.rs`): the
/// first line is a `Cookie` header, the second an `Origin`, the third a `Host`. The
/// session cookie read back is one whole value that the header holds, and a request
/// is same-origin only when its `Origin` names its `Host`.
pub fn console_session(data: &[u8]) {
    let mut lines = data.split(|b| *b == b'\n');
    let mut headers = HeaderMap::new();
    for name in ["cookie", "origin", "host"] {
        if let Some(Ok(value)) = lines.next().map(HeaderValue::from_bytes) {
            headers.insert(name, value);
        }
    }
    if let Some(value) = super::console::session::cookie_value(&headers) {
        assert!(!value.is_empty() && !value.contains(';'), "{value:?}");
        let cookie = headers
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(cookie.contains(value), "{value:?} is not in {cookie:?}");
    }
    let cross = super::console::session::is_cross_origin(&headers);
    if !cross {
        if let (Some(origin), Some(host)) = (headers.get("origin"), headers.get("host")) {
            let origin = origin.to_str().unwrap_or_default();
            let host = host.to_str().unwrap_or_default();
            assert!(
                origin
                    .trim_end_matches('/')
                    .to_ascii_lowercase()
                    .ends_with(&host.to_ascii_lowercase()),
                "{origin:?} passed as the origin of {host:?}"
            );
        }
    }
}
