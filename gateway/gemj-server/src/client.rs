//! The client's address behind reverse proxies: `server.trusted_proxies`.
//!
//! Beacon's per-address query budgets, Data Connect's and the refusal limit count an address.
//! Without trusted proxies that is the TCP peer's. Behind a reverse proxy every client would
//! share the proxy's, so the proxy's address (or network) is configured as trusted, and the
//! client is read from `X-Forwarded-For`, the header nginx, HAProxy, Envoy and the cloud load
//! balancers append to.
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

/// At most this many `X-Forwarded-For` entries are walked (a chain of proxies is short).
const MAX_HOPS: usize = 32;

/// The networks whose connections are proxies that append `X-Forwarded-For`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `server.trusted_proxies`: addresses (`10.0.0.5`, `::1`) or networks
    /// (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// The first entry that is neither, as a message for the configuration error.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
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
            .map(Self)
    }

    /// Whether no proxy is trusted (the TCP peer is always the client).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a connection from `peer` that carried these `X-Forwarded-For` values, in
    /// the order they arrived.
    #[must_use]
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'a [u8]>,
    ) -> Option<IpAddr> {
        let mut current = peer?;
        if !self.trusts(current) {
            return Some(current);
        }
        // Split as bytes: a value with bytes that are not text (a client's own entry) must not
        // hide the entries its proxy appended after it in the same value.
        let entries: Vec<&[u8]> = forwarded_for
            .flat_map(|v| v.split(|&b| b == b','))
            .collect();
        for entry in entries.iter().rev().take(MAX_HOPS) {
            let Some(next) = address(entry) else {
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

/// The address a request is counted by: its client's behind the trusted proxies, otherwise the
/// TCP peer's.
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) if !proxies.is_empty() => proxies.client(
            peer,
            req.headers()
                .get_all("x-forwarded-for")
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
        TrustedProxies::parse(&list).expect("valid")
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
    fn configuration_names_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).is_ok());
        assert!(TrustedProxies::parse(&["fd00::/8".into(), " 192.0.2.1 ".into()]).is_ok());
        let e = TrustedProxies::parse(&["10.0.0.0/33".into()]).expect_err("bad prefix");
        assert!(e.contains("10.0.0.0/33"), "{e}");
        assert!(TrustedProxies::parse(&["proxy.example.jp".into()]).is_err());
        // A network written with host bits is the network.
        let t = proxies(&["10.1.2.3/16"]);
        assert!(t.trusts(ip("10.1.200.1")));
    }
}
