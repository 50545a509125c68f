//! SSRF guard (SPEC §6): deliveries never reach loopback, private, link-local,
//! unique-local, multicast, unspecified or otherwise internal addresses unless the
//! operator allow-lists them (`HOOKGATE_DELIVERY_ALLOW_CIDRS`).
//!
//! The check runs on the addresses the connection will actually use: hostnames through
//! [`GuardedResolver`] (after DNS, so a public name pointing inside is refused and a
//! rebinding cannot slip between check and connect), IP literals — which never reach a
//! resolver — through [`SsrfPolicy::check_url`] before sending.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use crate::cidr::Cidr;

/// Refused IPv4 ranges. IPv6 forms that embed an IPv4 address are checked as that address.
const REFUSED_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8), // "this network", incl. unspecified 0.0.0.0
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private
    (Ipv4Addr::new(100, 64, 0, 0), 10), // carrier-grade NAT (shared address space)
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local, incl. cloud metadata 169.254.169.254
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments (not globally reachable)
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking; fake-IP DNS setups use it internally
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, incl. broadcast 255.255.255.255
];

const REFUSED_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::UNSPECIFIED, 128),
    (Ipv6Addr::LOCALHOST, 128),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64 (RFC 8215)
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),     // unique-local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),    // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),    // site-local (deprecated, was private)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),     // multicast
];

/// A destination refused by the SSRF guard. Names the host only: a URL's path or
/// query may carry a receiver's token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {host} is in a refused address range")]
pub struct Blocked {
    pub host: String,
}

/// A hostname that did not resolve to any address.
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}")]
pub struct Unresolved {
    pub host: String,
    #[source]
    pub source: io::Error,
}

#[derive(Debug, Clone, Default)]
pub struct SsrfPolicy {
    /// Ranges permitted even though they fall in a refused range.
    pub allow: Vec<Cidr>,
}

impl SsrfPolicy {
    pub fn new(allow: Vec<Cidr>) -> Self {
        Self { allow }
    }

    /// Whether a delivery may connect to `ip`. An allow-list entry matches the address as
    /// written or the IPv4 address it embeds (`::ffff:127.0.0.1` is `127.0.0.1`).
    pub fn permits(&self, ip: IpAddr) -> bool {
        let effective = embedded_v4(ip).map_or(ip, IpAddr::V4);
        let allowed = self
            .allow
            .iter()
            .any(|cidr| cidr.contains(ip) || cidr.contains(effective));
        allowed || !refused(effective)
    }

    /// Refuses a URL whose host is an IP literal outside the policy. Hostnames pass here
    /// and are checked by [`GuardedResolver`] once resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        // The URL parser has already normalised IPv4 literals (`127.1`, `0x7f000001`)
        // to dotted form and wrapped IPv6 ones in brackets.
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) if !self.permits(ip) => Err(Blocked {
                host: host.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

fn refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => REFUSED_V4.iter().any(|&(net, len)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }),
        IpAddr::V6(ip) => REFUSED_V6.iter().any(|&(net, len)| {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }),
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, deprecated; `::` and `::1` stay IPv6) and the NAT64
/// well-known prefix (`64:ff9b::a.b.c.d`), which a NAT64 gateway forwards to a.b.c.d.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let bits = u128::from(v6);
    let low = Ipv4Addr::from(u32::try_from(bits & 0xffff_ffff).ok()?);
    let compatible = bits >> 32 == 0 && bits > 1;
    let nat64 = bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000;
    (compatible || nat64).then_some(low)
}

/// reqwest's resolver for deliveries: system DNS (`getaddrinfo` via tokio), then every
/// address the policy refuses is dropped; nothing left is a [`Blocked`] error.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<SsrfPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<SsrfPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|source| Unresolved {
                    host: host.clone(),
                    source,
                })?
                .collect();
            if resolved.is_empty() {
                let source = io::Error::new(io::ErrorKind::NotFound, "no addresses");
                return Err(Box::new(Unresolved { host, source }) as _);
            }
            let permitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| policy.permits(addr.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(Blocked { host }) as _);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &SsrfPolicy, addr: &str, expect: bool) {
        let ip: IpAddr = addr.parse().unwrap();
        assert_eq!(policy.permits(ip), expect, "{addr}");
    }

    #[test]
    fn every_refused_range_is_refused_up_to_both_boundaries() {
        let policy = SsrfPolicy::default();
        // Each range's first and last address, and its neighbours on either side
        // (refused too where two refused ranges touch).
        let table: &[(&str, bool)] = &[
            ("0.0.0.0", false),
            ("0.255.255.255", false),
            ("1.0.0.0", true),
            ("9.255.255.255", true),
            ("10.0.0.0", false),
            ("10.255.255.255", false),
            ("11.0.0.0", true),
            ("100.63.255.255", true),
            ("100.64.0.0", false),
            ("100.127.255.255", false),
            ("100.128.0.0", true),
            ("126.255.255.255", true),
            ("127.0.0.0", false),
            ("127.255.255.255", false),
            ("128.0.0.0", true),
            ("169.253.255.255", true),
            ("169.254.0.0", false),
            ("169.254.255.255", false),
            ("169.255.0.0", true),
            ("172.15.255.255", true),
            ("172.16.0.0", false),
            ("172.31.255.255", false),
            ("172.32.0.0", true),
            ("191.255.255.255", true),
            ("192.0.0.0", false),
            ("192.0.0.255", false),
            ("192.0.1.0", true),
            ("192.167.255.255", true),
            ("192.168.0.0", false),
            ("192.168.255.255", false),
            ("192.169.0.0", true),
            ("198.17.255.255", true),
            ("198.18.0.0", false),
            ("198.19.255.255", false),
            ("198.20.0.0", true),
            ("223.255.255.255", true),
            ("224.0.0.0", false),
            ("239.255.255.255", false),
            ("240.0.0.0", false),
            ("255.255.255.255", false),
            ("::", false),
            ("::1", false),
            ("::2", false), // IPv4-compatible 0.0.0.2, in 0.0.0.0/8
            ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("64:ff9b:1::", false),
            ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false),
            ("64:ff9b:2::", true),
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("fc00::", false),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
            ("fe00::", true),
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
            ("fe80::", false),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
            ("fec0::", false),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
            ("ff00::", false),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ];
        for (addr, expect) in table {
            check(&policy, addr, *expect);
        }
    }

    #[test]
    fn named_dangerous_addresses_are_refused() {
        let policy = SsrfPolicy::default();
        for addr in [
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
        ] {
            check(&policy, addr, false);
        }
    }

    #[test]
    fn ipv6_forms_embedding_a_refused_ipv4_address_are_refused() {
        let policy = SsrfPolicy::default();
        let check = |addr: &str, expect: bool| check(&policy, addr, expect);
        check("::ffff:127.0.0.1", false);
        check("::ffff:169.254.169.254", false);
        check("::ffff:10.1.2.3", false);
        check("::ffff:0.0.0.0", false);
        check("::127.0.0.1", false);
        check("::10.0.0.1", false);
        check("64:ff9b::127.0.0.1", false);
        check("64:ff9b::192.168.1.1", false);
        // The same forms around a public address are as good as that address.
        check("::ffff:8.8.8.8", true);
        check("::8.8.8.8", true);
        check("64:ff9b::8.8.8.8", true);
    }

    #[test]
    fn public_addresses_are_permitted() {
        let policy = SsrfPolicy::default();
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
        ] {
            check(&policy, addr, true);
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_its_ranges() {
        let policy = SsrfPolicy::new(
            ["127.0.0.1/32", "10.1.0.0/16", "fd00::/64"]
                .map(|cidr| cidr.parse().unwrap())
                .to_vec(),
        );
        check(&policy, "127.0.0.1", true);
        check(&policy, "::ffff:127.0.0.1", true);
        check(&policy, "127.0.0.2", false);
        check(&policy, "::1", false);
        check(&policy, "10.1.255.255", true);
        check(&policy, "10.2.0.0", false);
        check(&policy, "fd00::1", true);
        check(&policy, "fd00:0:0:1::1", false);
        check(&policy, "169.254.169.254", false);
    }

    #[test]
    fn literal_hosts_in_urls_are_checked_before_sending() {
        let policy = SsrfPolicy::default();
        let check = |url: &str, expect: Result<(), &str>| {
            let url: Url = url.parse().unwrap();
            let got = policy.check_url(&url);
            assert_eq!(
                got,
                expect.map_err(|host| Blocked {
                    host: host.to_owned()
                }),
                "{url}"
            );
        };
        check(
            "http://169.254.169.254/latest/meta-data/",
            Err("169.254.169.254"),
        );
        check("https://127.0.0.1:8443/hook?token=secret", Err("127.0.0.1"));
        // The URL parser normalises the shorthand and hex forms of an IPv4 address.
        check("http://127.1/", Err("127.0.0.1"));
        check("http://0x7f000001/", Err("127.0.0.1"));
        check("http://[::ffff:127.0.0.1]/", Err("[::ffff:7f00:1]"));
        check("http://[::1]:80/", Err("[::1]"));
        check("https://8.8.8.8/", Ok(()));
        // Names are left to the resolver.
        check("https://localhost/", Ok(()));
        check("https://example.com/", Ok(()));
    }

    #[test]
    fn blocked_error_names_the_host_only() {
        let blocked = Blocked {
            host: "10.0.0.1".to_owned(),
        };
        assert_eq!(
            blocked.to_string(),
            "destination 10.0.0.1 is in a refused address range"
        );
    }
}
