//! The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
//! untrusted hop of its forwarding header. A client can prepend anything to that header,
//! so the chain is read right to left and the first address that is not a trusted proxy
//! wins. `X-Forwarded-For` is read when present (every common proxy appends to it), else
//! `Forwarded` (RFC 7239): a proxy that sets only one of them and passes the other through
//! from the client would otherwise let the client choose its address.

use std::net::{IpAddr, SocketAddr};

use crate::domain::{canonical_ip as canonical, TrustedProxies};
use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;

pub fn client_addr(req: &HttpRequest, trusted: &TrustedProxies) -> String {
    match req.peer_addr() {
        Some(peer) => resolve(peer.ip(), req.headers(), trusted).to_string(),
        None => "unknown".into(),
    }
}

/// The client address for a connection from `peer` carrying `headers`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.trusts(peer) {
        return peer;
    }
    let chain = if headers.contains_key("x-forwarded-for") {
        x_forwarded_for_chain(headers)
    } else {
        forwarded_chain(headers)
    };
    // Right to left: each trusted hop vouches for the one before it; stop at the first
    // address a trusted proxy reported that is not itself a proxy. An unparsable hop ends
    // the walk at the last good address to its right (nothing left of it can be believed).
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) => {
                client = canonical(*ip);
                if !trusted.trusts(client) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// Every element of every `X-Forwarded-For` header, in order.
fn x_forwarded_for_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    elements(headers, "x-forwarded-for")
        .map(|element| element.and_then(parse_hop))
        .collect()
}

/// The `for=` node of every element of every `Forwarded` header, in order.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    elements(headers, "forwarded")
        .map(|element| {
            element?
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| parse_hop(v))
        })
        .collect()
}

/// The comma-separated elements of every `name` header, each on its own: an element that is
/// not UTF-8 (a header value may carry any byte) is `None` without costing its neighbours.
fn elements<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> impl Iterator<Item = Option<&'a str>> + 'a {
    headers
        .get_all(name)
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        // An empty element is no hop (RFC 9110 §5.6.1: recipients ignore them).
        .filter(|element| !element.trim_ascii().is_empty())
        .map(|element| std::str::from_utf8(element).ok())
}

/// One hop as proxies write it: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711`,
/// `[2001:db8::1]:4711`, `[2001:db8::1]`, quoted or not (RFC 7239 §6 quotes the last
/// three); obfuscated and `unknown` nodes give no address.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(resolve(ip("192.0.2.9"), &h, &trusted), ip("192.0.2.9"));
        let nobody = TrustedProxies::parse("").unwrap();
        assert_eq!(resolve(ip("10.0.0.1"), &h, &nobody), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_proxy_chain_is_read_right_to_left() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        // The client forged the first entry; the proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let mapped = resolve(ip("::ffff:127.0.0.1"), &h, &trusted);
        assert_eq!(mapped, ip("198.51.100.7"));
    }

    #[test]
    fn x_forwarded_for_wins_over_a_forwarded_header_the_client_may_have_sent() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.5"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.5"));
    }

    #[test]
    fn forwarded_header_understands_ports_and_ipv6() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        let h = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8::17]:4711\";proto=https",
        )]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("2001:db8::17"));
        let h = headers(&[("forwarded", "for=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("192.0.2.60"));
    }

    #[test]
    fn garbage_or_obfuscated_hops_stop_the_walk() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "9.9.9.9, not-an-ip")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        let h = headers(&[]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_hops_may_carry_ports() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        for (value, client) in [
            ("203.0.113.5:4711", "203.0.113.5"),
            ("6.6.6.6, 203.0.113.5:4711", "203.0.113.5"),
            ("[2001:db8::17]:4711", "2001:db8::17"),
            ("[2001:db8::17]", "2001:db8::17"),
            ("2001:db8::17", "2001:db8::17"),
            ("203.0.113.5:4711, 127.0.0.1:80", "203.0.113.5"),
        ] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(
                resolve(ip("127.0.0.1"), &h, &trusted),
                ip(client),
                "{value}"
            );
        }
    }

    #[test]
    fn a_garbled_hop_stops_the_walk_at_the_good_address_to_its_right() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let raw = |name: &'static str, bytes: &[u8]| {
            let mut map = HeaderMap::new();
            let value = HeaderValue::from_bytes(bytes).expect("opaque bytes are a header value");
            map.append(HeaderName::from_static(name), value);
            map
        };
        // "é" in Latin-1, then in UTF-8: neither spoils the hop beside it.
        let h = raw("x-forwarded-for", b"\xe9, 203.0.113.6");
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.6"));
        let h = raw("x-forwarded-for", "é, 203.0.113.6".as_bytes());
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.6"));
        // Behind two proxies, the walk stops at the inner proxy, not at the peer.
        let h = headers(&[("x-forwarded-for", "garbage, 10.1.2.3")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("10.1.2.3"));
        // Empty elements are no hops.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, , 10.1.2.3,")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.7"));
        let h = raw("forwarded", b"for=\xe9, for=203.0.113.8");
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.8"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nginx").is_err());
        assert!(TrustedProxies::parse(" 10.0.0.0/8 , ::1 ").is_ok());
    }
}
