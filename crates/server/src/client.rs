//! Who the client is: the one place that derives a request's client address. Behind a reverse
//! proxy the TCP peer is the proxy, so the address the proxy saw is taken from
//! `X-Forwarded-For`, but only when the peer is a proxy the configuration trusts: anyone else
//! can write that header, and believing it would let a client pick the address it is counted
//! under.
//!
//! The address is personal data. It is used for counting (the failed-authentication limit) and
//! never logged or stored; what is kept in memory is a keyed hash of its network part
//! ([`ClientAddr::bucket`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `addr` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_v4(a, self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask_v6(a, self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

fn mask_v4(a: Ipv4Addr, prefix: u8) -> u32 {
    let bits = u32::from(a);
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix.min(32))))
    }
}

fn mask_v6(a: Ipv6Addr, prefix: u8) -> u128 {
    let bits = u128::from(a);
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix.min(128))))
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `ADDRESS/PREFIX` or a bare address (a network of one). Host bits set below the prefix
    /// are refused: `10.0.0.1/8` is more likely a typo than a wish to trust all of `10/8`.
    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse::<IpAddr>()
            .map_err(|_| format!("`{s}` is not an IP address or network (`10.0.0.0/8`)"))?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        let exact = match network {
            IpAddr::V4(a) => mask_v4(a, prefix) == u32::from(a),
            IpAddr::V6(a) => mask_v6(a, prefix) == u128::from(a),
        };
        if !exact {
            return Err(format!(
                "`{s}` has bits set after the first {prefix}: write the network's first address"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The TCP peer of a connection, put in each of its requests' extensions by the connection
/// loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub IpAddr);

/// The client address of a request, as [`client_address`] derived it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// What a per-client limit counts under: IPv4 per address, IPv6 per /64 (one subscriber's
    /// network; its host bits cost an attacker nothing to change), hashed with `key` so the
    /// address itself is not what is kept.
    pub fn bucket(&self, key: &[u8; 32]) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(key);
        match self.0.to_canonical() {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(&a.octets()[..8]),
        }
        h.finalize().into()
    }
}

/// The client address of a request that arrived from `peer` carrying the `X-Forwarded-For`
/// values `forwarded` (every header line, in order).
///
/// When `peer` is not in `trusted`, it is the client: what it wrote in `X-Forwarded-For` is
/// ignored. When it is, the list is read from the right (each proxy appends the address it saw)
/// and the first address that is not itself a trusted proxy is the client. When every entry is
/// trusted, or an entry cannot be read (a proxy that does not write the header, or junk from the
/// client left of the last trusted hop), the last trusted address reached stands in for the
/// client: the nearest hop that is known, never one the client could have chosen.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |a: IpAddr| trusted.iter().any(|c| c.contains(a));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded
        .into_iter()
        .flat_map(|line| line.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(addr) = parse_entry(entry) else {
            return client;
        };
        client = addr;
        if !is_trusted(addr) {
            return addr;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, an IPv6 address in brackets, either with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(a) = e.parse::<IpAddr>() {
        return Some(a.to_canonical());
    }
    e.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
        .or_else(|| {
            e.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|a| a.parse::<IpAddr>().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() {
        let got = client_address(ip("203.0.113.9"), ["198.51.100.1"], &[]);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address_by_forging_the_header() {
        let trusted = nets(&["10.0.0.0/8"]);
        let got = client_address(ip("203.0.113.9"), ["10.0.0.1, 198.51.100.1"], &trusted);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_s_right_most_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1"]);
        // The client forged the first entry; the edge proxy appended what it saw, then an
        // inner proxy appended the edge proxy.
        let got = client_address(
            ip("127.0.0.1"),
            ["198.51.100.66, 203.0.113.9", "10.1.2.3"],
            &trusted,
        );
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client_itself() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), [], &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn junk_in_the_header_stops_at_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let got = client_address(
            ip("10.0.0.2"),
            ["203.0.113.9, not-an-ip, 10.0.0.1"],
            &trusted,
        );
        assert_eq!(got, ip("10.0.0.1"));
        let got = client_address(ip("10.0.0.2"), ["10.0.0.3, 10.0.0.1"], &trusted);
        assert_eq!(got, ip("10.0.0.3"), "all trusted: the left-most hop");
    }

    #[test]
    fn ipv6_brackets_ports_and_mapped_ipv4_are_read() {
        let trusted = nets(&["::1", "127.0.0.0/8"]);
        assert_eq!(
            client_address(ip("::1"), ["[2001:db8::7]:4711"], &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.2"), ["203.0.113.9:80"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn networks_are_parsed_strictly() {
        assert!("10.0.0.0/8".parse::<Cidr>().is_ok());
        assert!("2001:db8::/32".parse::<Cidr>().is_ok());
        assert!(
            "127.0.0.1"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("127.0.0.1"))
        );
        assert!(
            !"127.0.0.1"
                .parse::<Cidr>()
                .unwrap()
                .contains(ip("127.0.0.2"))
        );
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!(!"0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("::1")));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "example.org", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_is_counted_per_ipv4_address_and_per_ipv6_slash_64() {
        let k = [7u8; 32];
        let b = |s: &str| ClientAddr(ip(s)).bucket(&k);
        assert_ne!(b("203.0.113.9"), b("203.0.113.10"));
        assert_eq!(b("2001:db8:1:2::1"), b("2001:db8:1:2:ffff::9"));
        assert_ne!(b("2001:db8:1:2::1"), b("2001:db8:1:3::1"));
        assert_ne!(
            b("203.0.113.9"),
            ClientAddr(ip("203.0.113.9")).bucket(&[8u8; 32])
        );
    }
}
