//! The client's address behind reverse proxies: `server.trusted_proxies`.
//!
//! Beacon's per-address query budgets, Data Connect's and the refusal limit count an address.
//! Without trusted proxies that is the TCP peer's. Behind a reverse proxy every client would
//! share the proxy's, so the proxy's address (or network) is configured as trusted, and the
//! client is read from `X-Forwarded-For`, the header nginx, HAProxy, Envoy and the cloud load
//! balancers append to, or from RFC 7239's `Forwarded` (its `for=` parameters) where
//! `server.forwarded_header` names it. Only the named header is read: a proxy that appends to
//! one passes the other on as the client wrote it.
//!
//! The header is read from the right, as nginx's `real_ip_recursive` does: each proxy appends
//! the address it received the connection from, so the entries a trusted proxy appended are
//! true and everything left of them is whatever the client sent. Starting at the TCP peer,
//! while the address in hand is a trusted proxy, the next entry to the left is taken; the first
//! address that is not a trusted proxy is the client's. A client that sends its own
//! `X-Forwarded-For` to escape its budget therefore gains nothing: its forged entries sit left
//! of the one its proxy appended. A peer that is not a trusted proxy is the client whatever it
//! sends; an entry that is not an address (`unknown`, an obfuscated identifier, garbage) ends
//! the walk at the proxy that passed it on.

use std::net::{IpAddr, SocketAddr};

use actix_web::{HttpRequest, web};
use ipnet::IpNet;

use crate::config::ForwardedHeader;

/// At most this many entries are walked (a chain of proxies is short).
const MAX_HOPS: usize = 32;

/// The networks whose connections are proxies that append to the forwarding header, and which
/// header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Parses `server.trusted_proxies`: addresses (`10.0.0.5`, `::1`) or networks
    /// (`10.0.0.0/8`, `fd00::/8`), whose client is read from `header`.
    ///
    /// # Errors
    /// The first entry that is neither, as a message for the configuration error.
    pub fn parse(entries: &[String], header: ForwardedHeader) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| {
                        format!(
                            "server.trusted_proxies: {e:?} is neither an IP address (10.0.0.5, \
                             ::1) nor a network (10.0.0.0/8, fd00::/8)"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|networks| Self { networks, header })
    }

    /// The header read: `x-forwarded-for` or `forwarded`.
    #[must_use]
    pub fn header_name(&self) -> &'static str {
        match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    /// Whether no proxy is trusted (the TCP peer is always the client).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// The client of a connection from `peer` that carried these values of the forwarding
    /// header, in the order they arrived.
    #[must_use]
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        values: impl Iterator<Item = &'a [u8]>,
    ) -> Option<IpAddr> {
        let mut current = peer?;
        if !self.trusts(current) {
            return Some(current);
        }
        // Split as bytes: a value with bytes that are not text (a client's own entry) must not
        // hide the entries its proxy appended after it in the same value.
        let entries: Vec<&[u8]> = match self.header {
            ForwardedHeader::XForwardedFor => {
                values.flat_map(|v| v.split(|&b| b == b',')).collect()
            }
            ForwardedHeader::Forwarded => values.flat_map(|v| unquoted_split(v, b',')).collect(),
        };
        for entry in entries.iter().rev().take(MAX_HOPS) {
            let next = match self.header {
                ForwardedHeader::XForwardedFor => address(entry),
                ForwardedHeader::Forwarded => forwarded_for(entry).and_then(|n| address(&n)),
            };
            let Some(next) = next else {
                break;
            };
            current = next;
            if !self.trusts(current) {
                break;
            }
        }
        Some(current)
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`) as some proxies write it.
fn address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// `value` split at `separator` where it is not inside a quoted string (RFC 7230's
/// `quoted-string`, with its backslash escapes). A value whose last quoted string never ends is
/// split at every `separator`: a client's unterminated quote must not swallow what its proxy
/// appended to the same value (whatever the proxy appended holds balanced quotes, so the value
/// ends inside a quote exactly when the client's part does).
fn unquoted_split(value: &[u8], separator: u8) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == separator && !quoted {
            parts.push(&value[start..i]);
            start = i + 1;
        }
    }
    if quoted || escaped {
        return value.split(|&b| b == separator).collect();
    }
    parts.push(&value[start..]);
    parts
}

/// The node of one `Forwarded` element's `for` parameter (`for=192.0.2.60`,
/// `for="[2001:db8:cafe::17]:4711"`), unquoted; none when the element has no `for`, has two, or
/// is not `name=value` pairs.
fn forwarded_for(element: &[u8]) -> Option<Vec<u8>> {
    let mut node = None;
    for pair in unquoted_split(element, b';') {
        let at = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii());
        if !name.eq_ignore_ascii_case(b"for") {
            continue;
        }
        if node.is_some() {
            return None;
        }
        node = Some(
            match value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
            {
                Some(quoted) => {
                    let mut out = Vec::with_capacity(quoted.len());
                    let mut bytes = quoted.iter();
                    while let Some(&b) = bytes.next() {
                        out.push(if b == b'\\' { *bytes.next()? } else { b });
                    }
                    out
                }
                None => value.to_vec(),
            },
        );
    }
    node
}

/// The address a request is counted by: its client's behind the trusted proxies, otherwise the
/// TCP peer's.
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) if !proxies.is_empty() => proxies.client(
            peer,
            req.headers()
                .get_all(proxies.header_name())
                .map(actix_web::http::header::HeaderValue::as_bytes),
        ),
        _ => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        TrustedProxies::parse(&list, ForwardedHeader::XForwardedFor).expect("valid")
    }

    fn rfc7239(list: &[&str]) -> TrustedProxies {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        TrustedProxies::parse(&list, ForwardedHeader::Forwarded).expect("valid")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn client(t: &TrustedProxies, peer: &str, xff: &[&str]) -> Option<IpAddr> {
        t.client(Some(ip(peer)), xff.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_sends() {
        let none = proxies(&[]);
        assert!(none.is_empty());
        assert_eq!(
            client(&none, "198.51.100.7", &["203.0.113.1"]),
            Some(ip("198.51.100.7"))
        );
        let lan = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&lan, "198.51.100.7", &["203.0.113.1"]),
            Some(ip("198.51.100.7")),
            "a peer outside the trusted networks cannot name another client"
        );
        assert_eq!(lan.client(None, [&b"203.0.113.1"[..]].into_iter()), None);
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let t = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(
            client(&t, "127.0.0.1", &["203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        // Two proxies: the edge appended the client, the inner one the edge.
        assert_eq!(
            client(&t, "10.0.0.2", &["203.0.113.9, 10.0.0.1"]),
            Some(ip("203.0.113.9"))
        );
        // The client's own forged entries sit left of what its proxy appended.
        assert_eq!(
            client(&t, "10.0.0.1", &["192.0.2.66, 198.51.100.1, 203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        // Repeated headers are one list, in the order they arrived.
        assert_eq!(
            client(&t, "10.0.0.1", &["192.0.2.66", "203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        // Only trusted addresses: the leftmost of them.
        assert_eq!(
            client(&t, "127.0.0.1", &["10.1.1.1, 10.0.0.1"]),
            Some(ip("10.1.1.1"))
        );
        // No header: the proxy itself.
        assert_eq!(client(&t, "127.0.0.1", &[]), Some(ip("127.0.0.1")));
    }

    #[test]
    fn entries_that_are_not_addresses_end_the_walk_at_the_proxy() {
        let t = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&t, "10.0.0.1", &["203.0.113.9, unknown"]),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client(&t, "10.0.0.1", &["203.0.113.9, _hidden, 10.0.0.7"]),
            Some(ip("10.0.0.7"))
        );
        assert_eq!(client(&t, "10.0.0.1", &[""]), Some(ip("10.0.0.1")));
        // Bytes that are not text in a client's own entry hide nothing its proxy appended.
        let value: &[u8] = b"\xff\xfe, 203.0.113.9";
        assert_eq!(
            t.client(Some(ip("10.0.0.1")), [value].into_iter()),
            Some(ip("203.0.113.9"))
        );
        let value: &[u8] = b"203.0.113.9, \xff";
        assert_eq!(
            t.client(Some(ip("10.0.0.1")), [value].into_iter()),
            Some(ip("10.0.0.1"))
        );
        // Ports, bracketed IPv6 and IPv4-mapped addresses are addresses.
        assert_eq!(
            client(&t, "10.0.0.1", &["203.0.113.9:4711"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client(&t, "10.0.0.1", &["[2001:db8::1]:4711"]),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client(&t, "10.0.0.1", &["[2001:db8::2]"]),
            Some(ip("2001:db8::2"))
        );
        assert_eq!(
            client(&t, "::ffff:10.0.0.1", &["::ffff:203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_long_chain_is_walked_only_so_far() {
        let t = proxies(&["10.0.0.0/8"]);
        let mut entries = vec!["203.0.113.9".to_owned()];
        entries.extend((0..40).map(|i| format!("10.0.0.{i}")));
        let header = entries.join(", ");
        let got = client(&t, "10.0.0.1", &[header.as_str()]).expect("an address");
        assert!(
            t.trusts(got),
            "past {MAX_HOPS} hops the walk stops at a proxy"
        );
    }

    #[test]
    fn rfc_7239_for_parameters_are_walked_the_same_way() {
        let t = rfc7239(&["10.0.0.0/8"]);
        assert_eq!(t.header_name(), "forwarded");
        assert_eq!(
            client(
                &t,
                "10.0.0.1",
                &["for=192.0.2.66, for=203.0.113.9;proto=https;by=10.0.0.1"]
            ),
            Some(ip("203.0.113.9")),
            "the client's own element sits left of its proxy's"
        );
        assert_eq!(
            client(
                &t,
                "10.0.0.2",
                &["for=203.0.113.9", "For=\"10.0.0.1:8080\""]
            ),
            Some(ip("203.0.113.9")),
            "two proxies, names in any case, a quoted node with a port"
        );
        assert_eq!(
            client(&t, "10.0.0.1", &["for=\"[2001:db8:cafe::17]:4711\""]),
            Some(ip("2001:db8:cafe::17"))
        );
        assert_eq!(
            client(&t, "10.0.0.1", &["for=\"[2001:db8::\\1]\""]),
            Some(ip("2001:db8::1")),
            "a quoted-pair is its character"
        );
        // A client's unterminated quote swallows nothing its proxy appended.
        for forged in ["for=\"198.51.100.1", "for=\"198.51.100.1\\\"", "ext=\""] {
            for appended in ["for=203.0.113.9", "for=\"203.0.113.9:80\";proto=https"] {
                let value = format!("{forged}, {appended}");
                assert_eq!(
                    client(&t, "10.0.0.1", &[value.as_str()]),
                    Some(ip("203.0.113.9")),
                    "{value}"
                );
            }
        }
        // A comma or semicolon inside a quoted value splits nothing.
        assert_eq!(
            client(
                &t,
                "10.0.0.1",
                &["for=203.0.113.9;ext=\"a, for=198.51.100.1; b\""]
            ),
            Some(ip("203.0.113.9"))
        );
        // `unknown`, an obfuscated node, an element without `for`, with two, or not pairs:
        // the walk ends at the proxy that passed it on.
        for value in [
            "for=203.0.113.9, for=unknown",
            "for=203.0.113.9, for=_hidden",
            "for=203.0.113.9, proto=https",
            "for=203.0.113.9, for=192.0.2.1;for=192.0.2.2",
            "for=203.0.113.9, 192.0.2.1",
        ] {
            assert_eq!(
                client(&t, "10.0.0.1", &[value]),
                Some(ip("10.0.0.1")),
                "{value}"
            );
        }
        // Only the named header is read: X-Forwarded-For is ignored here, and `Forwarded`
        // where X-Forwarded-For is named (a proxy passes the other on as the client wrote it).
        assert_eq!(
            client(&t, "10.0.0.1", &["203.0.113.9"]),
            Some(ip("10.0.0.1"))
        );
        let xff = proxies(&["10.0.0.0/8"]);
        assert_eq!(xff.header_name(), "x-forwarded-for");
        assert_eq!(
            client(&xff, "10.0.0.1", &["for=203.0.113.9"]),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn configuration_names_addresses_or_networks() {
        assert!(
            TrustedProxies::parse(
                &["10.0.0.0/8".into(), "::1".into()],
                ForwardedHeader::default()
            )
            .is_ok()
        );
        assert!(
            TrustedProxies::parse(
                &["fd00::/8".into(), " 192.0.2.1 ".into()],
                ForwardedHeader::default()
            )
            .is_ok()
        );
        let e = TrustedProxies::parse(&["10.0.0.0/33".into()], ForwardedHeader::default())
            .expect_err("bad prefix");
        assert!(e.contains("10.0.0.0/33"), "{e}");
        assert!(
            TrustedProxies::parse(&["proxy.example.jp".into()], ForwardedHeader::default())
                .is_err()
        );
        // A network written with host bits is the network.
        let t = proxies(&["10.1.2.3/16"]);
        assert!(t.trusts(ip("10.1.200.1")));
    }
}
