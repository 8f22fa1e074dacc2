//! Property tests (proptest) of the parsers an attacker reaches first: the JWT verifier, the
//! JSON-or-form body parser, the query parsers of `/authorize` and `return_to`, the
//! `Forwarded` / `X-Forwarded-For` reader and the redirect-URI matcher. Arbitrary input
//! never panics, and each has a property that says what it must decide. The case counts keep
//! the whole file to a few seconds; no failure files are written (a failure prints its
//! minimal input).

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use gatehouse::domain::{canonical_ip, TrustedProxies};
use gatehouse::http::body::{self, BodyError};
use gatehouse::sso::authorize::{self, AuthParams, Rejection};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::helpers::{b64url, spawn_app, Backend};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// The JWT verifier.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_verifier_never_panics_and_accepts_nothing_but_the_tokens_it_signed() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.add_user("alice", "alice's long password", false).await;
    let (access, refresh) = app.tokens("alice", "alice's long password").await;
    let tokens = app.state.tokens.clone();
    let keys = tokens.keys.snapshot();
    let verifier = tokens.verifier(&keys);
    assert!(
        verifier.access(&access).is_ok(),
        "control: the genuine token"
    );
    assert!(
        verifier.refresh(&refresh).is_ok(),
        "control: the genuine token"
    );
    let refused_everywhere = |token: &str| -> Result<(), TestCaseError> {
        prop_assert!(
            verifier.access(token).is_err(),
            "accepted as access: {token}"
        );
        prop_assert!(
            verifier.refresh(token).is_err(),
            "accepted as refresh: {token}"
        );
        prop_assert!(
            verifier.id_token_hint(token).is_err(),
            "accepted as id_token: {token}"
        );
        Ok(())
    };
    let mut runner = TestRunner::new(config(400));

    // Any text at all.
    runner
        .run(&any::<String>(), |s| refused_everywhere(&s))
        .expect("arbitrary text");
    // Three base64url segments of arbitrary bytes.
    let segment = proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| b64url(&b));
    runner
        .run(&(segment.clone(), segment.clone(), segment), |(h, p, s)| {
            refused_everywhere(&format!("{h}.{p}.{s}"))
        })
        .expect("three segments");
    // A plausible header (our alg, typ and kid, plus an arbitrary member), the genuine
    // claims, and an arbitrary signature.
    let kid = keys
        .signer(gatehouse::keys::Alg::Rs256)
        .expect("signer")
        .kid
        .clone();
    let claims = access.split('.').nth(1).expect("claims").to_string();
    let member = ("[a-z]{1,5}", any::<String>(), any::<i64>());
    let signature = proptest::collection::vec(any::<u8>(), 250..260).prop_map(|b| b64url(&b));
    runner
        .run(&(member, signature), |((name, text, number), sig)| {
            let mut header = serde_json::json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid });
            header[name.as_str()] = serde_json::json!([text, number]);
            refused_everywhere(&format!(
                "{}.{claims}.{sig}",
                b64url(header.to_string().as_bytes())
            ))
        })
        .expect("plausible header");
    // Any one character of a genuine token replaced by another: refused (no malleable
    // encoding, no unsigned byte).
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
            .chars()
            .collect();
    for genuine in [&access, &refresh] {
        let chars: Vec<char> = genuine.chars().collect();
        let change = (0..chars.len(), proptest::sample::select(alphabet.clone()));
        runner
            .run(&change, |(i, c)| {
                if chars[i] == c {
                    return Ok(());
                }
                let mut changed = chars.clone();
                changed[i] = c;
                let token: String = changed.into_iter().collect();
                refused_everywhere(&token)
            })
            .expect("one character changed");
    }
}

// ---------------------------------------------------------------------------------------
// The body parser (JSON or form, by Content-Type).

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct Typed {
    n: u32,
    flag: bool,
    #[serde(default)]
    kind: Option<Kind>,
}

#[derive(serde::Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Plain,
    Fancy,
}

fn request_with(content_type: Option<&str>) -> actix_web::HttpRequest {
    let mut req = actix_web::test::TestRequest::default();
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    req.to_http_request()
}

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=utf-8"),
    Some("application/json"),
    Some("application/json; charset=latin1"),
    Some("application/vnd.api+json"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
];

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn the_body_parser_never_panics_on_arbitrary_bytes_of_any_content_type(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        ct in proptest::sample::select(CONTENT_TYPES.to_vec()),
        form_only in any::<bool>(),
    ) {
        let req = request_with(ct);
        let _ = body::parse::<Credentials>(&req, &bytes, form_only);
        let _ = body::parse::<Typed>(&req, &bytes, form_only);
        let _ = body::parse::<serde_json::Value>(&req, &bytes, form_only);
    }

    #[test]
    fn the_body_parser_reads_back_exactly_what_a_client_encoded_as_form_or_json(
        username in any::<String>(),
        password in any::<String>(),
    ) {
        let sent = Credentials { username: Some(username.clone()), password: Some(password.clone()) };
        let form = serde_urlencoded::to_string([("username", &username), ("password", &password)])
            .expect("form");
        let req = request_with(Some("application/x-www-form-urlencoded"));
        prop_assert_eq!(body::parse::<Credentials>(&req, form.as_bytes(), true).ok(), Some(sent));
        let json = serde_json::json!({ "username": username, "password": password }).to_string();
        let req = request_with(Some("application/json"));
        let got = body::parse::<Credentials>(&req, json.as_bytes(), false).expect("json");
        prop_assert_eq!(got.username, Some(username));
        prop_assert_eq!(got.password, Some(password));
    }

    /// What a client typed into a field that fails to parse (a password in the wrong field,
    /// say) never comes back in the error message.
    #[test]
    fn a_body_parse_error_never_repeats_a_submitted_value(secret in "[A-Za-z0-9]{12,40}") {
        let form_req = request_with(Some("application/x-www-form-urlencoded"));
        let json_req = request_with(Some("application/json"));
        let bodies = [
            (&form_req, format!("n={secret}&flag=true")),
            (&form_req, format!("n=1&flag={secret}")),
            (&form_req, format!("n=1&flag=true&n={secret}")),
            (&form_req, format!("n=1&flag=true&kind={secret}")),
            (&form_req, format!("n=1&flag=true&{secret}={secret}&n=2")),
            (&json_req, format!("{{\"n\":\"{secret}\",\"flag\":true}}")),
            (&json_req, format!("{{\"n\":1,\"flag\":{secret}}}")),
            (&json_req, format!("{{\"n\":1,\"flag\":\"{secret}\"}}")),
            (&json_req, format!("{{\"n\":1,\"{secret}\"")),
            (&json_req, format!("{{\"n\":1,\"flag\":true,\"kind\":\"{secret}\"}}")),
        ];
        for (req, text) in bodies {
            match body::parse::<Typed>(req, text.as_bytes(), false) {
                Err(BodyError::Malformed(msg)) => {
                    prop_assert!(!msg.contains(&secret), "{} leaks into {}", text, msg);
                }
                other => prop_assert!(false, "{}: {:?}", text, other.map(|_| ())),
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Query parsers: /authorize and the login page's way back.

    #[test]
    fn the_authorize_query_parser_never_panics(query in any::<String>()) {
        let _ = serde_urlencoded::from_str::<AuthParams>(&query);
        let _ = authorize::params_of_return_to(&query);
        let _ = authorize::params_of_return_to(&format!("/authorize?{query}"));
    }

    /// `return_to` is followed after sign-in: whatever comes in, what comes out is empty or
    /// a path on this host (never a scheme, a `//host`, a backslash or a line break).
    #[test]
    fn return_to_is_always_a_path_on_this_host(
        value in prop_oneof![
            any::<String>(),
            "(/authorize\\?|/console|//|/\\\\|https?:|/console/)[ -~]{0,20}",
        ],
    ) {
        let back = authorize::safe_return_to(Some(&value));
        if !back.is_empty() {
            prop_assert!(back.starts_with('/'), "{back}");
            prop_assert!(!back.starts_with("//") && !back.starts_with("/\\"), "{back}");
            prop_assert!(!back.contains(['\\', '\r', '\n']), "{back}");
            prop_assert!(back.starts_with("/authorize?") || back.starts_with("/console"), "{back}");
            prop_assert!(!back.contains("://"), "{back}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The client address behind proxies.

/// One element of a forwarding header: an address in one of its spellings, or junk.
fn hop() -> impl Strategy<Value = String> {
    let v4 = any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string());
    let v6 = any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string());
    let trusted = proptest::sample::select(vec!["127.0.0.1", "10.1.2.3", "::ffff:10.0.0.1"])
        .prop_map(str::to_string);
    prop_oneof![
        v4.clone(),
        v6.clone().prop_map(|ip| format!("\"[{ip}]:4711\"")),
        v4.prop_map(|ip| format!("\"{ip}:80\"")),
        v6,
        trusted,
        "[ -~]{0,12}",
    ]
}

fn header_value() -> impl Strategy<Value = (bool, String)> {
    let xff = proptest::collection::vec(hop(), 0..5).prop_map(|hops| hops.join(", "));
    let forwarded = proptest::collection::vec(hop(), 0..5).prop_map(|hops| {
        hops.iter()
            .map(|h| format!("for={h};proto=https"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    prop_oneof![
        xff.prop_map(|v| (true, v)),
        forwarded.prop_map(|v| (false, v))
    ]
}

/// Every address any spelling in `text` might stand for.
fn addresses_in(text: &str) -> Vec<IpAddr> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .flat_map(|word| {
            let trimmed = word.trim_matches(':');
            let without_port = trimmed.rsplit_once(':').map(|(a, _)| a).unwrap_or(trimmed);
            [word, trimmed, without_port]
        })
        .filter_map(|w| w.parse::<IpAddr>().ok())
        .map(canonical_ip)
        .collect()
}

/// The proxies the properties trust, "127.0.0.1, 10.0.0.0/8", decided here on their own.
fn trusted_here(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST || v4.octets()[0] == 10,
        IpAddr::V6(_) => false,
    }
}

/// One well-formed hop: any address, or one of the trusted proxies.
fn address_hop() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<IpAddr>(),
        proptest::sample::select(vec![
            "127.0.0.1".parse::<IpAddr>().expect("ip"),
            "10.1.2.3".parse().expect("ip"),
            "::ffff:10.0.0.1".parse().expect("ip"),
        ]),
    ]
}

/// A well-formed forwarding header: `X-Forwarded-For` (true) or `Forwarded`, and its hops.
fn well_formed_header() -> impl Strategy<Value = (bool, Vec<IpAddr>)> {
    (
        any::<bool>(),
        proptest::collection::vec(address_hop(), 1..5),
    )
}

/// `hops` as a header value: bare addresses for `X-Forwarded-For`; `for=` nodes for
/// `Forwarded` (RFC 7239 §6: an IPv6 address quoted and in brackets).
fn header_text(xff: bool, hops: &[IpAddr]) -> String {
    let hop = |ip: &IpAddr| match (xff, ip) {
        (true, ip) => ip.to_string(),
        (false, IpAddr::V4(v4)) => format!("for={v4}"),
        (false, IpAddr::V6(v6)) => format!("for=\"[{v6}]\""),
    };
    hops.iter().map(hop).collect::<Vec<_>>().join(", ")
}

proptest! {
    #![proptest_config(config(400))]

    /// A peer that is not a trusted proxy is the client, whatever it says; a trusted proxy
    /// can only name an address that its headers carry. Arbitrary headers never panic.
    #[test]
    fn the_forwarding_header_reader_never_panics_and_believes_only_what_is_sent(
        peer in prop_oneof![
            any::<IpAddr>(),
            proptest::sample::select(vec![
                "127.0.0.1".parse::<IpAddr>().expect("ip"),
                "10.9.8.7".parse().expect("ip"),
                "::ffff:127.0.0.1".parse().expect("ip"),
            ]),
        ],
        headers in proptest::collection::vec(header_value(), 0..3),
    ) {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("proxies");
        let mut map = HeaderMap::new();
        let mut all = String::new();
        for (is_xff, value) in &headers {
            let Ok(v) = HeaderValue::from_str(value) else { continue };
            let name = if *is_xff { "x-forwarded-for" } else { "forwarded" };
            map.append(HeaderName::from_static(name), v);
            all.push(' ');
            all.push_str(value);
        }
        let client = gatehouse::http::client_addr::resolve(peer, &map, &trusted);
        let peer = canonical_ip(peer);
        if trusted.trusts(peer) {
            prop_assert!(
                client == peer || addresses_in(&all).contains(&client),
                "{client} is neither the peer {peer} nor in {all:?}"
            );
        } else {
            prop_assert_eq!(client, peer, "an untrusted peer's headers were believed: {:?}", all);
        }
    }

    /// For well-formed headers the answer is exact: an untrusted peer is the client; behind
    /// a trusted one, the chain (`X-Forwarded-For` when sent, else `Forwarded`) is read
    /// right to left and the first address that is not a trusted proxy is the client, so
    /// whatever a client prepends (its forged leftmost address) is never believed; when
    /// every hop is a trusted proxy, the leftmost hop is.
    #[test]
    fn the_forwarding_header_reader_believes_only_trusted_proxies(
        peer in address_hop(),
        headers in proptest::collection::vec(well_formed_header(), 0..3),
    ) {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("proxies");
        let mut map = HeaderMap::new();
        for (xff, hops) in &headers {
            let name = if *xff { "x-forwarded-for" } else { "forwarded" };
            let value = HeaderValue::from_str(&header_text(*xff, hops)).expect("header value");
            map.append(HeaderName::from_static(name), value);
        }
        let sent_xff = headers.iter().any(|(xff, _)| *xff);
        let chain: Vec<IpAddr> = headers
            .iter()
            .filter(|(xff, _)| *xff == sent_xff)
            .flat_map(|(_, hops)| hops.iter().map(|ip| ip.to_canonical()))
            .collect();
        let peer = peer.to_canonical();
        let expected = if !trusted_here(peer) {
            peer
        } else {
            chain
                .iter()
                .rev()
                .find(|ip| !trusted_here(**ip))
                .or(chain.first())
                .copied()
                .unwrap_or(peer)
        };
        let client = gatehouse::http::client_addr::resolve(peer, &map, &trusted);
        prop_assert_eq!(client, expected, "peer {}, headers {:?}", peer, headers);
    }
}

// ---------------------------------------------------------------------------------------
// The redirect-URI matcher of /authorize.

fn registered_uri() -> impl Strategy<Value = String> {
    "(https|http|com\\.example\\.app)://[a-z]{1,6}(\\.[a-z]{2,3})?(:[0-9]{2,4})?(/[a-zA-Z0-9._~-]{0,6}){0,3}(\\?[a-z]=[a-z0-9]{0,3})?"
}

/// A near miss of `uri`: what look-alike attacks try.
fn near_miss(uri: &str, how: usize, c: char) -> String {
    let mut chars: Vec<char> = uri.chars().collect();
    match how % 9 {
        0 => format!("{uri}{c}"),
        1 => {
            chars.pop();
            chars.into_iter().collect()
        }
        2 => uri.to_uppercase(),
        3 => format!("{uri}/"),
        4 => format!("{uri}#{c}"),
        5 => format!(" {uri}"),
        6 => uri.replacen("://", "://evil.example@", 1),
        7 => {
            let i = how / 9 % chars.len().max(1);
            if let Some(slot) = chars.get_mut(i) {
                *slot = c;
            }
            chars.into_iter().collect()
        }
        _ => format!("{uri}%2F..%2F{c}"),
    }
}

fn client_with(redirect_uris: Vec<String>) -> gatehouse::accounts::clients::Client {
    gatehouse::accounts::clients::Client {
        client_id: "app".into(),
        secret_hash: None,
        public: true,
        redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        grants: vec!["authorization_code".into()],
        scopes: vec!["openid".into()],
        consent: false,
        disabled: false,
        created_at: 0,
        introspect_any: false,
        managed: false,
        access_token_alg: None,
        id_token_alg: gatehouse::keys::Alg::Rs256,
        require_mfa: false,
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// The matcher accepts exactly the registered URIs: whatever it decides, the browser is
    /// only ever sent to the candidate when the candidate is registered, and a registered
    /// candidate is always accepted.
    #[test]
    fn the_redirect_uri_matcher_accepts_exactly_the_registered_uris(
        registered in proptest::collection::vec(registered_uri(), 1..4),
        pick in any::<usize>(),
        how in 0usize..40,
        c in any::<char>(),
        arbitrary in any::<String>(),
        kind in 0u8..3,
    ) {
        let original = registered[pick % registered.len()].clone();
        let candidate = match kind {
            0 => original.clone(),
            1 => near_miss(&original, how, c),
            _ => arbitrary,
        };
        let params = AuthParams {
            response_type: Some("code".into()),
            client_id: Some("app".into()),
            redirect_uri: Some(candidate.clone()),
            scope: Some("openid".into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..AuthParams::default()
        };
        let is_registered = registered.contains(&candidate);
        match authorize::validate(&params, Some(client_with(registered.clone()))) {
            Ok(req) => {
                prop_assert!(is_registered, "accepted {candidate:?} not in {registered:?}");
                prop_assert_eq!(req.redirect_uri, candidate);
            }
            Err(Rejection::Redirect { redirect_uri, .. }) => {
                prop_assert!(is_registered, "sent an error to {candidate:?} not in {registered:?}");
                prop_assert_eq!(redirect_uri, candidate);
            }
            Err(Rejection::Page(_)) => {
                prop_assert!(!is_registered, "refused the registered {candidate:?}");
            }
        }
    }
}
