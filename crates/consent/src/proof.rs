//! What a consent's proof may hold. A proof says how consent was given (a form id, a truncated
//! IP address) so the controller can demonstrate it (Art. 7(1)); a full IP address would make
//! the proof itself personal data in the clear, so it must be truncated first.

/// Whether `text` holds a full IP address: IPv4 (a dotted quad that is not truncated) or IPv6
/// (an address whose interface identifier is not zero). `192.0.2.0/24`, `2001:db8:1::/48` and
/// `2001:db8:1:2::` are truncated and pass; `192.0.2.41`, `2001:db8::1/64` and
/// `::ffff:192.0.2.41` do not.
pub fn has_full_ip(text: &str) -> bool {
    has_full_ipv4(text) || has_full_ipv6(text)
}

/// An IPv6 address that is not truncated: its interface identifier (the last 64 bits) is not
/// zero, whatever prefix follows it. `2001:db8:1::/48` and `2001:db8:1:2::` are truncated;
/// `2001:db8::1`, `2001:db8::1/64` and `::ffff:192.0.2.41` are not.
fn has_full_ipv6(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.' || c == '/'))
        .filter(|tok| tok.contains(':'))
        .any(|tok| {
            let addr = tok.split_once('/').map_or(tok, |(a, _)| a);
            addr.parse::<std::net::Ipv6Addr>()
                .is_ok_and(|ip| u128::from(ip) & u128::from(u64::MAX) != 0)
        })
}

/// A full dotted-quad IPv4 address that is not truncated (last octet 0 with a prefix, or `x`).
fn has_full_ipv4(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/'))
        .any(|tok| {
            let (addr, prefix) = match tok.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (tok, None),
            };
            let parts: Vec<&str> = addr.split('.').collect();
            parts.len() == 4
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255)
                })
                && prefix.is_none()
                && parts[3] != "0"
        })
}

#[cfg(test)]
mod tests {
    use super::has_full_ip;

    #[test]
    fn full_addresses_are_spotted_and_truncated_ones_pass() {
        for full in [
            "form 7 from 192.0.2.41",
            "ip=2001:db8::1",
            "2001:db8:85a3:0:0:8a2e:370:7334",
            "from 2001:db8::1/128",
            "2001:db8::1/64",
            "::ffff:192.0.2.41",
            "192.0.2.41:8080",
        ] {
            assert!(has_full_ip(full), "{full}");
        }
        for truncated in [
            "form 7 from 192.0.2.0/24",
            "2001:db8:1::/48",
            "2001:db8:1:2::",
            "signup-form-v3 at 12:30",
            "form 7",
        ] {
            assert!(!has_full_ip(truncated), "{truncated}");
        }
    }
}
