//! Outbound-address safety for connector calls.
//!
//! A connection's Server URL is user input that makes *this server* send requests, so an unchecked
//! URL turns the admin into a proxy into the hosting network (cloud metadata at 169.254.169.254,
//! databases on 10.x, services on loopback). The policy here refuses such addresses by default.
//!
//! The check has to run where the connection is actually made, otherwise DNS rebinding (a name that
//! resolves to a public address when checked and to 127.0.0.1 when connected) walks straight past
//! it. So there are two enforcement points, both used by the TUNE client:
//!
//! * [`GuardedResolver`], installed as the HTTP client's DNS resolver: every name lookup made for a
//!   connection is filtered, and only permitted addresses are handed to the connector.
//! * [`OutboundPolicy::check_url`], run before sending: the HTTP client never calls the resolver for
//!   IP-literal hosts (`http://10.0.0.5/`), so those are checked up front. It also enforces the
//!   scheme allow-list (http/https only).
//!
//! `allow_private_targets` turns the address check off for local development, the sandbox and tests.
//! On a corporate agent it is on (reaching internal systems is what an agent is for), limited by
//! the agent operator's [`InternalReach`]: cloud metadata refused by default, and private
//! destinations optionally restricted to given ranges.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Where a connector may send requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OutboundPolicy {
    /// When true, loopback/private/link-local targets are allowed (local demo, sandbox, tests,
    /// corporate agents). The server's configuration sets it from an environment variable; it
    /// defaults to false.
    pub(crate) allow_private_targets: bool,
    /// With `allow_private_targets`: the limits a corporate agent's operator set. `None`: none.
    pub(crate) internal: Option<Arc<InternalReach>>,
    /// The HTTP proxy's host: resolved without the check (the operator chose it), since with a
    /// proxy the connection goes there and the proxy reaches the target.
    pub(crate) proxy_host: Option<String>,
}

/// What a corporate agent may reach besides public addresses, as its operator decides
/// (`junction agent --allow CIDR --deny-metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalReach {
    /// When not empty, non-public destinations must fall in one of these ranges. Public
    /// addresses are always allowed.
    pub allow: Vec<IpNet>,
    /// Refuse link-local addresses (169.254.0.0/16, fe80::/10), where cloud metadata services
    /// answer, and the EC2 IPv6 metadata address fd00:ec2::254, whatever `allow` says.
    pub deny_metadata: bool,
}

impl Default for InternalReach {
    /// Every internal address but cloud metadata.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny_metadata: true,
        }
    }
}

/// The EC2 instance metadata service's IPv6 address (its IPv4 one is link-local).
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

impl InternalReach {
    fn check(&self, host: &str, ip: IpAddr) -> Result<(), OutboundRefusal> {
        let range = blocked_range(ip);
        let metadata = range == Some(BlockedRange::LinkLocal)
            || ip == IpAddr::V6(EC2_METADATA_V6)
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local()));
        if self.deny_metadata && metadata {
            return Err(OutboundRefusal::Metadata {
                host: host.to_string(),
                ip,
            });
        }
        if range.is_some()
            && !self.allow.is_empty()
            && !self.allow.iter().any(|net| net.contains(&ip))
        {
            return Err(OutboundRefusal::OutsideAllowed {
                host: host.to_string(),
                ip,
            });
        }
        Ok(())
    }
}

/// Why an address is not a permitted outbound target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockedRange {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), IPv6 unique-local fc00::/7 and site-local fec0::/10.
    Private,
    /// 169.254/16 (including cloud metadata endpoints) and fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8 and `::`; Linux routes 0.0.0.0 to the local host.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// Carrier-grade NAT shared space 100.64/10, often used for internal cloud networking.
    SharedAddressSpace,
    /// 224/4 and ff00::/8: never an HTTP server, refused so nothing odd is sent on the LAN.
    Multicast,
    /// 192.0.0.0/24 (IETF protocol assignments) and 240/4 (reserved for future use): not
    /// reachable on the internet, so only something local could answer.
    Reserved,
    /// 198.18.0.0/15, set aside for benchmarking networks inside an organisation.
    Benchmarking,
}

impl BlockedRange {
    /// Short plain-language name of the range, used in messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
            Self::Benchmarking => "benchmarking",
        }
    }

    /// The description with its article: "a private", "an unspecified".
    pub(crate) fn with_article(self) -> String {
        let words = self.describe();
        let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {words}")
    }
}

/// A refused outbound target. Its `Display` names the host or address but never a path or query,
/// so it is safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutboundRefusal {
    /// Only `http` and `https` may be used.
    #[error("the URL scheme \"{0}\" is not allowed; use http or https")]
    Scheme(String),
    /// The URL has no host to connect to.
    #[error("the URL has no host name")]
    NoHost,
    /// The host is, or resolves to, an address in a blocked range.
    #[error("{host} points to {} address ({ip})", range.with_article())]
    BlockedAddress {
        /// The host as written in the URL.
        host: String,
        /// The offending address.
        ip: IpAddr,
        /// Which blocked range it falls in.
        range: BlockedRange,
    },
    /// A corporate agent refuses cloud metadata and link-local addresses (`--deny-metadata`).
    #[error(
        "{host} points to a link-local or cloud metadata address ({ip}), which this agent refuses"
    )]
    Metadata { host: String, ip: IpAddr },
    /// A corporate agent limited to some internal ranges (`--allow`) was asked for another.
    #[error("{host} points to {ip}, outside the internal ranges this agent may reach")]
    OutsideAllowed { host: String, ip: IpAddr },
}

/// Returns the blocked range `ip` falls in, or `None` when it is an acceptable public target.
/// IPv6 forms that carry an IPv4 address are judged by that address, since that is where the
/// packets end up: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 with the
/// well-known prefix (`64:ff9b::a.b.c.d`) or a local one (`64:ff9b:1::/48`, the address in the
/// last 32 bits as translators that use a /96 inside it place it) and 6to4 (`2002:aabb:ccdd::/48`).
pub(crate) fn blocked_range(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(BlockedRange::Loopback)
    } else if ip.is_private() {
        Some(BlockedRange::Private)
    } else if ip.is_link_local() {
        Some(BlockedRange::LinkLocal)
    } else if a == 0 {
        Some(BlockedRange::Unspecified)
    } else if ip.is_broadcast() {
        Some(BlockedRange::Broadcast)
    } else if a == 100 && (b & 0xc0) == 64 {
        Some(BlockedRange::SharedAddressSpace)
    } else if ip.is_multicast() {
        Some(BlockedRange::Multicast)
    } else if (a == 192 && b == 0 && ip.octets()[2] == 0) || a >= 240 {
        Some(BlockedRange::Reserved)
    } else if a == 198 && (b & 0xfe) == 18 {
        Some(BlockedRange::Benchmarking)
    } else {
        None
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some(BlockedRange::Unspecified);
    }
    if ip.is_loopback() {
        return Some(BlockedRange::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4);
    }
    // IPv4-compatible ::a.b.c.d (deprecated but still routable on some stacks).
    if seg[..6] == [0; 6] {
        return blocked_v4(embedded_v4(ip));
    }
    // NAT64: the well-known prefix 64:ff9b::/96, and the local-use 64:ff9b:1::/48, carry an
    // IPv4 destination in their last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || seg[..3] == [0x64, 0xff9b, 1] {
        return blocked_v4(embedded_v4(ip));
    }
    // 6to4: 2002:aabb:ccdd::/48 is relayed to the IPv4 address a.b.c.d.
    if seg[0] == 0x2002 {
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return blocked_v4(Ipv4Addr::new(a, b, c, d));
    }
    match seg[0] {
        s if (s & 0xfe00) == 0xfc00 => Some(BlockedRange::Private),
        s if (s & 0xffc0) == 0xfe80 => Some(BlockedRange::LinkLocal),
        s if (s & 0xffc0) == 0xfec0 => Some(BlockedRange::Private),
        s if (s & 0xff00) == 0xff00 => Some(BlockedRange::Multicast),
        _ => None,
    }
}

/// The IPv4 address carried in the last 32 bits of an IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

impl OutboundPolicy {
    /// The production default: private, loopback and link-local targets are refused.
    pub(crate) const fn strict() -> Self {
        Self {
            allow_private_targets: false,
            internal: None,
            proxy_host: None,
        }
    }

    /// For local development, the sandbox and tests: every address is allowed (scheme still checked).
    pub(crate) const fn allow_private() -> Self {
        Self {
            allow_private_targets: true,
            internal: None,
            proxy_host: None,
        }
    }

    /// A corporate agent's: internal addresses within its operator's `reach`.
    pub(crate) fn internal(reach: InternalReach) -> Self {
        Self {
            allow_private_targets: true,
            internal: Some(Arc::new(reach)),
            proxy_host: None,
        }
    }

    /// Checks one resolved (or literal) address for `host`.
    pub(crate) fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), OutboundRefusal> {
        if self.allow_private_targets {
            return match &self.internal {
                Some(reach) => reach.check(host, ip),
                None => Ok(()),
            };
        }
        match blocked_range(ip) {
            Some(range) => Err(OutboundRefusal::BlockedAddress {
                host: host.to_string(),
                ip,
                range,
            }),
            None => Ok(()),
        }
    }

    /// Checks what can be checked before any lookup: the scheme, and the address when the host is an
    /// IP literal (the HTTP client skips the resolver for those). Host names are checked later, at
    /// connection time, by [`GuardedResolver`].
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), OutboundRefusal> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(OutboundRefusal::Scheme(other.to_string())),
        }
        match url.host() {
            None => Err(OutboundRefusal::NoHost),
            Some(Host::Ipv4(v4)) => self.check_ip(&v4.to_string(), IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_ip(&v6.to_string(), IpAddr::V6(v6)),
            Some(Host::Domain(name)) => {
                // `url` already turns dotted-decimal hosts into Ipv4, but a name such as "0x7f.1"
                // or "2130706433" can reach here on non-special schemes; parse it to be sure.
                match name.parse::<IpAddr>() {
                    Ok(ip) => self.check_ip(name, ip),
                    Err(_) if name.is_empty() => Err(OutboundRefusal::NoHost),
                    Err(_) => Ok(()),
                }
            }
        }
    }

    /// Keeps the permitted addresses of a lookup; refuses when none is left.
    pub(crate) fn filter_addrs(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for addr in addrs {
            match self.check_ip(host, addr.ip()) {
                Ok(()) => allowed.push(addr),
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refusal)) => Err(ResolveError::Refused(refusal)),
            (true, None) => Err(ResolveError::NotFound {
                host: host.to_string(),
            }),
        }
    }
}

/// Error produced by [`GuardedResolver`]. The client finds it again in the HTTP error's source
/// chain to tell "name not found" apart from "name resolves to a refused address".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// The lookup failed or returned no address.
    NotFound {
        /// The name that was looked up.
        host: String,
    },
    /// Every address the name resolves to is refused by the policy.
    Refused(OutboundRefusal),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { host } => write!(f, "no address found for {host}"),
            Self::Refused(refusal) => write!(f, "refused: {refusal}"),
        }
    }
}

impl StdError for ResolveError {}

/// A `reqwest` DNS resolver that resolves with the system resolver (tokio `lookup_host`) and drops
/// every address the policy refuses, so the check holds for the address actually connected to.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: OutboundPolicy,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub(crate) fn new(policy: OutboundPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the connector replaces it with the URL's port.
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| ResolveError::NotFound { host: host.clone() })?;
            let allowed = if policy
                .proxy_host
                .as_deref()
                .is_some_and(|proxy| proxy.eq_ignore_ascii_case(&host))
            {
                found.collect()
            } else {
                policy.filter_addrs(&host, found)?
            };
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The connectors' outbound policy, for the server's other calls to URLs its users give (alert
/// webhooks): the same address check before sending and at every lookup.
#[derive(Debug, Clone)]
pub struct OutboundGuard {
    policy: OutboundPolicy,
}

impl OutboundGuard {
    /// Strict unless `allow_private_targets` (the server's JUNCTION_ALLOW_PRIVATE_TARGETS).
    pub fn new(allow_private_targets: bool) -> Self {
        let policy = if allow_private_targets {
            OutboundPolicy::allow_private()
        } else {
            OutboundPolicy::strict()
        };
        Self { policy }
    }

    /// Refuses a scheme other than http(s), or a refused literal address, in words safe to show.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        self.policy
            .check_url(url)
            .map_err(|refusal| refusal.to_string())
    }

    /// An HTTP client builder that resolves names through the policy, follows no redirect and
    /// ignores the environment's proxy variables.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(self.policy.clone())))
    }
}

/// Finds a [`ResolveError`] in an error's source chain.
pub(crate) fn find_resolve_error<'a>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a ResolveError> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<ResolveError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocked_ranges_are_recognised_and_public_addresses_pass() {
        let table: &[(&str, Option<BlockedRange>)] = &[
            ("127.0.0.1", Some(BlockedRange::Loopback)),
            ("127.255.0.9", Some(BlockedRange::Loopback)),
            ("10.0.0.5", Some(BlockedRange::Private)),
            ("172.16.0.1", Some(BlockedRange::Private)),
            ("172.31.255.255", Some(BlockedRange::Private)),
            ("192.168.1.1", Some(BlockedRange::Private)),
            ("169.254.169.254", Some(BlockedRange::LinkLocal)),
            ("0.0.0.0", Some(BlockedRange::Unspecified)),
            ("0.1.2.3", Some(BlockedRange::Unspecified)),
            ("255.255.255.255", Some(BlockedRange::Broadcast)),
            ("100.64.0.1", Some(BlockedRange::SharedAddressSpace)),
            ("100.127.255.254", Some(BlockedRange::SharedAddressSpace)),
            ("224.0.0.1", Some(BlockedRange::Multicast)),
            ("::1", Some(BlockedRange::Loopback)),
            ("::", Some(BlockedRange::Unspecified)),
            ("fc00::1", Some(BlockedRange::Private)),
            ("fd12:3456::1", Some(BlockedRange::Private)),
            ("fe80::1", Some(BlockedRange::LinkLocal)),
            ("fec0::1", Some(BlockedRange::Private)),
            ("ff02::1", Some(BlockedRange::Multicast)),
            ("::ffff:127.0.0.1", Some(BlockedRange::Loopback)),
            ("::ffff:10.1.2.3", Some(BlockedRange::Private)),
            ("::ffff:169.254.169.254", Some(BlockedRange::LinkLocal)),
            ("::10.1.2.3", Some(BlockedRange::Private)),
            ("64:ff9b::a9fe:a9fe", Some(BlockedRange::LinkLocal)),
            ("192.0.0.1", Some(BlockedRange::Reserved)),
            ("192.0.0.255", Some(BlockedRange::Reserved)),
            ("198.18.0.1", Some(BlockedRange::Benchmarking)),
            ("198.19.255.255", Some(BlockedRange::Benchmarking)),
            ("240.0.0.1", Some(BlockedRange::Reserved)),
            ("254.255.255.255", Some(BlockedRange::Reserved)),
            ("239.255.255.255", Some(BlockedRange::Multicast)),
            // Public addresses, including neighbours of the blocked ranges.
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("169.253.0.1", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("192.0.1.1", None),
            ("191.255.255.255", None),
            ("198.17.255.255", None),
            ("198.20.0.1", None),
            ("239.0.0.0", Some(BlockedRange::Multicast)),
        ];
        for (addr, expected) in table {
            assert_eq!(blocked_range(ip(addr)), *expected, "{addr}");
        }
    }

    #[test]
    fn six_to_four_and_nat64_addresses_are_judged_by_the_ipv4_address_they_carry() {
        let table: &[(&str, Option<BlockedRange>)] = &[
            // 6to4, 2002:aabb:ccdd::/48.
            ("2002:7f00:1::", Some(BlockedRange::Loopback)),
            ("2002:a00:5::1", Some(BlockedRange::Private)),
            ("2002:a9fe:a9fe:1234::1", Some(BlockedRange::LinkLocal)),
            ("2002:c612:1::", Some(BlockedRange::Benchmarking)),
            ("2002:f000:1::", Some(BlockedRange::Reserved)),
            ("2002::", Some(BlockedRange::Unspecified)),
            ("2002:808:808::1", None),
            // Local-use NAT64, 64:ff9b:1::/48, with the address in the last 32 bits.
            ("64:ff9b:1::a00:5", Some(BlockedRange::Private)),
            (
                "64:ff9b:1:1234:5678:9abc:a9fe:a9fe",
                Some(BlockedRange::LinkLocal),
            ),
            ("64:ff9b:1::c000:1", Some(BlockedRange::Reserved)),
            ("64:ff9b:1::808:808", None),
            // The well-known NAT64 prefix, 64:ff9b::/96.
            ("64:ff9b::7f00:1", Some(BlockedRange::Loopback)),
            ("64:ff9b::c612:1", Some(BlockedRange::Benchmarking)),
            ("64:ff9b::808:808", None),
        ];
        for (addr, expected) in table {
            assert_eq!(blocked_range(ip(addr)), *expected, "{addr}");
        }
        let refused = OutboundPolicy::strict()
            .check_url(&Url::parse("http://[2002:a00:5::1]/Apiv3/json").unwrap())
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "2002:a00:5::1 points to a private address (2002:a00:5::1)"
        );
        let reserved = OutboundPolicy::strict()
            .check_url(&Url::parse("http://0.0.0.0/").unwrap())
            .unwrap_err();
        assert_eq!(
            reserved.to_string(),
            "0.0.0.0 points to an unspecified address (0.0.0.0)"
        );
    }

    #[test]
    fn strict_policy_refuses_literal_private_urls_and_bad_schemes() {
        let strict = OutboundPolicy::strict();
        let table: &[(&str, bool)] = &[
            ("https://demo.api.hasoffers.com/Apiv3/json", true),
            ("http://8.8.8.8/", true),
            ("https://10.0.0.5/Apiv3/json", false),
            ("http://127.0.0.1:8080/", false),
            ("http://[::1]:8080/", false),
            ("http://[::ffff:169.254.169.254]/", false),
            ("http://169.254.169.254/latest/meta-data/", false),
            ("http://0.0.0.0:80/", false),
            // The url crate normalises odd IPv4 spellings to dotted form for http(s).
            ("http://2130706433/", false),
            ("http://0x7f.1/", false),
            ("ftp://demo.api.hasoffers.com/", false),
            ("file:///etc/passwd", false),
        ];
        for (raw, ok) in table {
            let url = Url::parse(raw).unwrap();
            assert_eq!(strict.check_url(&url).is_ok(), *ok, "{raw}");
        }
    }

    #[test]
    fn allow_private_policy_still_refuses_bad_schemes() {
        let open = OutboundPolicy::allow_private();
        assert!(
            open.check_url(&Url::parse("http://127.0.0.1:1/").unwrap())
                .is_ok()
        );
        assert!(
            open.check_url(&Url::parse("http://10.0.0.5/").unwrap())
                .is_ok()
        );
        assert_eq!(
            open.check_url(&Url::parse("gopher://example.com/").unwrap()),
            Err(OutboundRefusal::Scheme("gopher".into()))
        );
    }

    #[test]
    fn refusal_message_names_the_address_and_range() {
        let err = OutboundPolicy::strict()
            .check_url(&Url::parse("https://10.0.0.5/Apiv3/json?NetworkToken=x").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "10.0.0.5 points to a private address (10.0.0.5)"
        );
    }

    #[test]
    fn filtering_keeps_public_addresses_and_refuses_when_none_remain() {
        let strict = OutboundPolicy::strict();
        let mixed = vec![
            SocketAddr::new(ip("127.0.0.1"), 0),
            SocketAddr::new(ip("93.184.216.34"), 0),
        ];
        assert_eq!(
            strict.filter_addrs("h", mixed).unwrap(),
            vec![SocketAddr::new(ip("93.184.216.34"), 0)]
        );
        let private = vec![SocketAddr::new(ip("10.0.0.5"), 0)];
        assert!(matches!(
            strict.filter_addrs("h", private),
            Err(ResolveError::Refused(
                OutboundRefusal::BlockedAddress { .. }
            ))
        ));
        assert!(matches!(
            strict.filter_addrs("h", Vec::new()),
            Err(ResolveError::NotFound { .. })
        ));
    }

    #[test]
    fn an_agent_reaches_internal_addresses_but_not_cloud_metadata_unless_its_operator_lifts_it() {
        let nets = |list: &[&str]| list.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>();
        let default = OutboundPolicy::internal(InternalReach::default());
        let limited = OutboundPolicy::internal(InternalReach {
            allow: nets(&["10.20.0.0/16", "fd12::/16"]),
            deny_metadata: true,
        });
        let lifted = OutboundPolicy::internal(InternalReach {
            allow: Vec::new(),
            deny_metadata: false,
        });
        type Case<'a> = (&'a str, bool, bool, bool, &'a str);
        let cases: &[Case] = &[
            // (address, default agent, --allow 10.20.0.0/16 fd12::/16, --no-deny-metadata, why)
            ("10.0.0.5", true, false, true, "a private address"),
            ("10.20.3.4", true, true, true, "inside the allowed range"),
            ("127.0.0.1", true, false, true, "loopback is internal too"),
            ("fd12::1", true, true, true, "an allowed IPv6 range"),
            (
                "8.8.8.8",
                true,
                true,
                true,
                "public addresses are never limited",
            ),
            ("169.254.169.254", false, false, true, "cloud metadata"),
            ("169.254.10.1", false, false, true, "link-local in general"),
            ("fe80::1", false, false, true, "IPv6 link-local"),
            (
                "fd00:ec2::254",
                false,
                false,
                true,
                "EC2's IPv6 metadata address",
            ),
            (
                "::ffff:169.254.169.254",
                false,
                false,
                true,
                "metadata behind IPv4-mapped",
            ),
        ];
        for (addr, by_default, when_limited, when_lifted, why) in cases {
            assert_eq!(
                default.check_ip("h", ip(addr)).is_ok(),
                *by_default,
                "{why}: default"
            );
            assert_eq!(
                limited.check_ip("h", ip(addr)).is_ok(),
                *when_limited,
                "{why}: --allow"
            );
            assert_eq!(
                lifted.check_ip("h", ip(addr)).is_ok(),
                *when_lifted,
                "{why}: lifted"
            );
        }
        assert_eq!(
            default
                .check_ip("meta", ip("169.254.169.254"))
                .unwrap_err()
                .to_string(),
            "meta points to a link-local or cloud metadata address (169.254.169.254), which this agent refuses"
        );
        assert_eq!(
            limited
                .check_ip("db", ip("10.1.1.1"))
                .unwrap_err()
                .to_string(),
            "db points to 10.1.1.1, outside the internal ranges this agent may reach"
        );
    }

    #[tokio::test]
    async fn the_proxys_own_address_is_not_held_to_the_policy() {
        let mut policy = OutboundPolicy::strict();
        policy.proxy_host = Some("LOCALHOST".into());
        let resolver = GuardedResolver::new(policy);
        assert!(resolver.resolve("localhost".parse().unwrap()).await.is_ok());
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_localhost_under_the_strict_policy() {
        let resolver = GuardedResolver::new(OutboundPolicy::strict());
        let name: Name = "localhost".parse().unwrap();
        let err = match resolver.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(err) => err,
        };
        assert!(matches!(
            find_resolve_error(err.as_ref()),
            Some(ResolveError::Refused(_))
        ));
        let open = GuardedResolver::new(OutboundPolicy::allow_private());
        let name: Name = "localhost".parse().unwrap();
        assert!(open.resolve(name).await.is_ok());
    }
}
