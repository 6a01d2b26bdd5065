//! The address a request comes from. The socket's peer, unless that peer is a configured trusted
//! proxy (`JUNCTION_TRUSTED_PROXIES`, off by default): then the address that proxy reports in
//! `Forwarded` (RFC 7239) or `X-Forwarded-For`. Walking the list from the right and skipping
//! our own proxies means a client cannot choose its address by sending the header itself.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    pub(crate) fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the peer, or what the trusted proxies in front of us say.
    pub(crate) fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        // Prefer the standard header; each proxy appends, so read right to left.
        let hops = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
        let Some(hops) = hops else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // An address we cannot read (`unknown`, an obfuscated name): stop at the last
                // proxy we trust.
                None => break,
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Every `X-Forwarded-For` value, in order; `None` for an entry that is not an address.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        hops.extend(text.split(',').map(|item| parse_node(item.trim())));
    }
    (!hops.is_empty()).then_some(hops)
}

/// The `for=` of every `Forwarded` element, in order.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let text = value.to_str().ok()?;
        for element in text.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            });
            if let Some(node) = node {
                hops.push(parse_node(node));
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8:1::/48".parse().unwrap(),
        ]);
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                "203.0.113.9",
                &[("x-forwarded-for", "198.51.100.1")],
                "203.0.113.9",
                "an untrusted peer's header is ignored",
            ),
            (
                "10.1.2.3",
                &[],
                "10.1.2.3",
                "a proxy that says nothing is the client",
            ),
            (
                "10.1.2.3",
                &[("x-forwarded-for", "198.51.100.1")],
                "198.51.100.1",
                "one trusted hop",
            ),
            (
                "10.1.2.3",
                &[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.9.9.9")],
                "198.51.100.1",
                "the rightmost address we do not trust; the client's own claim is ignored",
            ),
            (
                "10.1.2.3",
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "198.51.100.1"),
                ],
                "198.51.100.1",
                "several header lines form one list",
            ),
            (
                "10.1.2.3",
                &[
                    ("forwarded", "for=198.51.100.2;proto=https"),
                    ("x-forwarded-for", "6.6.6.6"),
                ],
                "198.51.100.2",
                "Forwarded wins over X-Forwarded-For",
            ),
            (
                "10.1.2.3",
                &[("forwarded", r#"for="[2001:db8::7]:4711", for=10.2.2.2"#)],
                "2001:db8::7",
                "bracketed IPv6 with a port, then a trusted hop",
            ),
            (
                "10.1.2.3",
                &[("forwarded", "for=198.51.100.3:8080")],
                "198.51.100.3",
                "IPv4 with a port",
            ),
            (
                "10.1.2.3",
                &[("x-forwarded-for", "198.51.100.1, unknown")],
                "10.1.2.3",
                "an unreadable hop stops the walk at the proxy",
            ),
            (
                "10.1.2.3",
                &[("x-forwarded-for", "10.4.4.4")],
                "10.4.4.4",
                "only proxies all the way: the leftmost",
            ),
            (
                "::ffff:10.1.2.3",
                &[("x-forwarded-for", "198.51.100.1")],
                "198.51.100.1",
                "an IPv4-mapped peer is its IPv4 address",
            ),
            (
                "2001:db8:1::5",
                &[("x-forwarded-for", "2001:db8:2::9")],
                "2001:db8:2::9",
                "IPv6 proxies",
            ),
        ];
        for (peer, pairs, expected, why) in cases {
            let client = proxies.client(Some(peer.parse().unwrap()), &headers(pairs));
            assert_eq!(client, Some(expected.parse().unwrap()), "{why}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let client = TrustedProxies::default().client(
            Some("127.0.0.1".parse().unwrap()),
            &headers(&[
                ("x-forwarded-for", "198.51.100.1"),
                ("forwarded", "for=6.6.6.6"),
            ]),
        );
        assert_eq!(client, Some("127.0.0.1".parse().unwrap()));
    }
}
