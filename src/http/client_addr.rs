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
    // the walk (nothing left of it can be believed).
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

fn x_forwarded_for_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|s| s.trim().parse::<IpAddr>().ok())
        .collect()
}

/// The `for=` node of every element of every `Forwarded` header, in order.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, v)| parse_node(v.trim()))
        })
        .collect()
}

/// RFC 7239 §6 node: `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`; obfuscated
/// and `unknown` nodes give no address.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = node.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

/// `::ffff:10.0.0.1` and `10.0.0.1` are one client (a dual-stack listener reports the former).
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
    fn bad_settings_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nginx").is_err());
        assert!(TrustedProxies::parse(" 10.0.0.0/8 , ::1 ").is_ok());
    }
}
