//! The client's address for the access log (SPEC §16): the peer's, unless the peer is
//! a trusted proxy (`--trusted-proxies`), in which case `X-Forwarded-For` is read from
//! the right, past every trusted hop, to the first address no trusted proxy vouches for.
//!
//! Only the trusted proxies' own appends are believed: a client can write anything at
//! the left of the header, so reading from the left would let it choose its address.

use crate::cidr::Cidr;
use http::HeaderMap;
use std::net::IpAddr;

pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Cidr],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        hops.extend(text.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // An unreadable hop ends what can be believed: keep the last good one.
            None => break,
        }
    }
    Some(client)
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, or
/// either with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("test address {text}"))
    }

    #[test]
    fn believes_forwarded_for_only_past_trusted_hops() {
        let trusted: Vec<Cidr> = ["10.0.0.0/8", "::1/128"]
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        // (peer, X-Forwarded-For values, expected client)
        let cases: &[(&str, &[&str], &str)] = &[
            // Not behind a proxy: the header is the client's own claim.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // One trusted proxy: the address it appended.
            ("10.0.0.5", &["198.51.100.1"], "198.51.100.1"),
            // The client forged a left part; the proxy's append wins.
            ("10.0.0.5", &["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
            // Two trusted hops, across two header lines.
            (
                "10.0.0.5",
                &["198.51.100.1, 10.1.1.1", "10.2.2.2"],
                "198.51.100.1",
            ),
            // Only trusted hops: the leftmost of them.
            ("10.0.0.5", &["10.9.9.9"], "10.9.9.9"),
            // No header behind a proxy: the proxy itself.
            ("10.0.0.5", &[], "10.0.0.5"),
            // Garbage at the right: nothing past it is believed.
            ("10.0.0.5", &["198.51.100.1, not-an-ip"], "10.0.0.5"),
            // Ports and brackets as some proxies write them.
            ("::1", &["[2001:db8::7]:443"], "2001:db8::7"),
            ("::1", &["198.51.100.1:5000"], "198.51.100.1"),
            ("::1", &["[2001:db8::8]"], "2001:db8::8"),
        ];
        for (peer, forwarded, expected) in cases {
            let mut headers = HeaderMap::new();
            for value in *forwarded {
                headers.append(
                    "x-forwarded-for",
                    value.parse().unwrap_or_else(|_| panic!("{value}")),
                );
            }
            assert_eq!(
                client_address(Some(ip(peer)), &headers, &trusted),
                Some(ip(expected)),
                "peer {peer}, forwarded {forwarded:?}"
            );
        }
    }

    #[test]
    fn no_trusted_proxies_means_the_peer() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", http::HeaderValue::from_static("1.2.3.4"));
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &headers, &[]),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(client_address(None, &headers, &[]), None);
    }
}
