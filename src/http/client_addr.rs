//! The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
//! untrusted hop of `X-Forwarded-For` (a client can prepend anything, so read right to left).

use std::net::IpAddr;

use actix_web::HttpRequest;

pub fn client_addr(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded
        .rsplit(',')
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
}
