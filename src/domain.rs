//! Newtypes that parse at the edge: a value of these types is known to be well formed.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use zeroize::Zeroizing;

/// A username as Django accepts it: 1 to 150 of letters, digits and `@.+-_`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, String> {
        if s.is_empty() {
            return Err("username may not be blank".into());
        }
        if s.chars().count() > 150 {
            return Err("username is longer than 150 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            return Err("username may contain only letters, digits and @ . + - _".into());
        }
        Ok(Username(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

/// A client id: 1 to 100 URL-safe characters when registered; looked up more leniently.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// An id to register: 1 to 100 URL-safe characters (RFC 3986 unreserved: ASCII letters,
    /// digits, `-._~`), never `.` or `..` alone, so that it is always exactly one path
    /// segment of the console's and the admin API's URLs.
    pub fn parse(s: &str) -> Result<ClientId, String> {
        let url_safe = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !url_safe || s == "." || s == ".." {
            return Err(
                "client id may contain only letters, digits and - . _ ~ (and is not . or .. alone)"
                    .into(),
            );
        }
        ClientId::parse_stored(s)
    }

    /// An id to look up: anything an earlier release registered (printable ASCII without
    /// `: " ' \`), so that such a client still authenticates and an admin can still list,
    /// disable and delete it. Only [`ClientId::parse`] admits a new one.
    pub fn parse_stored(s: &str) -> Result<ClientId, String> {
        if s.is_empty() || s.len() > 100 {
            return Err("client id must be 1 to 100 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b":\"'\\".contains(&b))
        {
            return Err("client id may contain only printable ASCII without : \" ' or \\".into());
        }
        Ok(ClientId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute redirect URI as registered (RFC 6749 §3.1.2: absolute, no fragment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(s: &str) -> Result<RedirectUri, String> {
        let scheme_end = s
            .find("://")
            .ok_or("redirect URI must be absolute (scheme://host/...)")?;
        let scheme = &s[..scheme_end];
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err("redirect URI has an invalid scheme".into());
        }
        if s.contains('#') {
            return Err("redirect URI may not contain a fragment".into());
        }
        if s.len() > 2000 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("redirect URI is too long or contains whitespace".into());
        }
        Ok(RedirectUri(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the issuer is plain http on a loopback host (a developer's machine).
fn issuer_is_local_http(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// The rule for a client's logout URI (Back-Channel Logout 1.0 §2.2, Front-Channel Logout
/// 1.0 §2), wherever it is registered (admin API, console, CLI, `CLIENTS_FILE`): absolute
/// A `*_logout_session_required` flag needs its URI: set without one, it would be dropped
/// unseen (the `CLIENTS_FILE` refuses it the same way).
pub fn check_logout_flags(
    backchannel_uri: Option<&str>,
    backchannel_session_required: bool,
    frontchannel_uri: Option<&str>,
    frontchannel_session_required: bool,
) -> Result<(), String> {
    for (name, uri, required) in [
        (
            "backchannel_logout",
            backchannel_uri,
            backchannel_session_required,
        ),
        (
            "frontchannel_logout",
            frontchannel_uri,
            frontchannel_session_required,
        ),
    ] {
        if required && uri.is_none() {
            return Err(format!("{name}_session_required needs {name}_uri"));
        }
    }
    Ok(())
}

/// `https` (or `http` when the issuer is itself http on loopback, for development), with a
/// host, no credentials, no fragment, at most 2000 characters. The error says why, after
/// `what`.
pub fn check_logout_uri(uri: &str, issuer: &str, what: &str) -> Result<(), String> {
    let invalid = |why: &str| format!("{what}: {why}");
    if uri.len() > 2000 {
        return Err(invalid("longer than 2000 characters"));
    }
    let url = url::Url::parse(uri).map_err(|_| invalid("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if issuer_is_local_http(issuer) => {}
        "http" => {
            return Err(invalid(
                "must be https (http only while the issuer is http on loopback)",
            ))
        }
        _ => return Err(invalid("must be https")),
    }
    if url.host().is_none() {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    Ok(())
}

/// The CSP source of a registered URI's origin: `https://host:port` for http(s), the bare
/// `scheme:` for an app's custom scheme; `None` when it is not safe to write into a header.
pub fn csp_origin(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        let ok = scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        return ok.then(|| format!("{scheme}:"));
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The grant types a client may be registered for.
pub const GRANTS: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];

/// A space-separated scope string split into its tokens (RFC 6749 §3.3).
pub fn split_scope(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// A scope token: printable ASCII except `"` and `\` (RFC 6749 §3.3).
pub fn valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// `N/duration`, e.g. `5/15m`: at most N failures per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: i32,
    pub window_secs: i64,
}

impl Limit {
    pub fn parse(s: &str) -> Result<Limit, String> {
        let (n, window) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not like 5/15m"))?;
        let max_failures = n
            .trim()
            .parse::<i32>()
            .map_err(|_| format!("{s:?} is not like 5/15m"))?;
        let window = parse_duration(window)?;
        if max_failures < 1 || window.is_zero() {
            return Err(format!("{s:?}: both parts must be positive"));
        }
        Ok(Limit {
            max_failures,
            window_secs: window.as_secs() as i64,
        })
    }
}

/// The windows of `LOGIN_THROTTLE` (failed sign-ins, and wrong client secrets): per username, then per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_username: Limit,
    pub per_address: Limit,
}

impl LoginLimits {
    /// `5/15m,50/15m` (username, then address), or one limit for both.
    pub fn parse(text: &str) -> Result<LoginLimits, String> {
        let limits = text
            .split(',')
            .map(|s| Limit::parse(s.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        match limits.as_slice() {
            [both] => Ok(LoginLimits {
                per_username: *both,
                per_address: *both,
            }),
            [user, addr] => Ok(LoginLimits {
                per_username: *user,
                per_address: *addr,
            }),
            _ => Err("give N/window for the username, then for the address".into()),
        }
    }
}

/// Parses `30s`, `5m`, `24h`, `30d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 24h or 30d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 30s, 5m, 24h or 30d"
            ))
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Configured proxies (`GATEHOUSE_TRUSTED_PROXIES`): addresses and CIDR ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8, 127.0.0.1, ::1`; an empty string trusts nobody.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Unix seconds as an operator reads them: RFC 3339 in UTC, to the second
/// (`2026-12-02T03:04:05Z`).
pub fn utc_datetime(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// One browser origin allowed to call the token endpoints across origins (`CORS_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigin {
    /// The origin as a browser serialises it in `Origin`: `scheme://host[:port]`, lower
    /// case, without a default port.
    pub origin: String,
    /// Marked `;credentials`: answered with `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
}

/// `CORS_ORIGINS`: exact origins, comma-separated, each optionally marked `;credentials`,
/// e.g. `https://spa.example.com, https://admin.example.com;credentials`. No wildcards: the
/// token endpoints answer only the origins listed (discovery and the JWKS answer any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<CorsOrigin>);

impl CorsOrigins {
    pub fn parse(list: &str) -> Result<CorsOrigins, String> {
        let mut out: Vec<CorsOrigin> = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (origin, marker) = match item.split_once(';') {
                Some((o, m)) => (o.trim(), Some(m.trim())),
                None => (item, None),
            };
            let credentials = match marker {
                None => false,
                Some(m) if m.eq_ignore_ascii_case("credentials") => true,
                Some(m) => {
                    return Err(format!(
                        "{item:?}: unknown marker {m:?} (the only one is ;credentials)"
                    ))
                }
            };
            let origin = normalise_origin(origin).map_err(|e| format!("{item:?}: {e}"))?;
            if out.iter().any(|o| o.origin == origin) {
                return Err(format!("{origin} is listed twice"));
            }
            out.push(CorsOrigin {
                origin,
                credentials,
            });
        }
        Ok(CorsOrigins(out))
    }

    pub fn iter(&self) -> impl Iterator<Item = &CorsOrigin> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `scheme://host[:port]` as browsers send it in `Origin` (RFC 6454 §6.1).
fn normalise_origin(s: &str) -> Result<String, String> {
    if s == "*" || s.contains('*') {
        return Err("wildcards are not allowed; list each origin exactly".into());
    }
    if s.eq_ignore_ascii_case("null") {
        return Err("the origin null (sandboxed pages, files) cannot be allowed".into());
    }
    let lower = s.to_ascii_lowercase();
    let (scheme, rest) = lower
        .split_once("://")
        .ok_or("an origin looks like https://host or http://host:port")?;
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return Err("an origin's scheme is http or https".into()),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(
            "an origin has no path, query, fragment or user; only scheme://host[:port]".into(),
        );
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!("{p:?} is not a port"));
        }
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c))
    {
        return Err("the host has characters an origin cannot have".into());
    }
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// A secret setting (the master key): its `Debug` never shows it, and it is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(s: String) -> SecretString {
        SecretString(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        assert_eq!(
            Limit::parse("5/15m"),
            Ok(Limit {
                max_failures: 5,
                window_secs: 900
            })
        );
        assert!(Limit::parse("0/15m").is_err());
        assert!(Limit::parse("five").is_err());
        let both = LoginLimits::parse("5/15m, 50/1h").unwrap();
        assert_eq!(both.per_address.window_secs, 3600);
        assert_eq!(
            LoginLimits::parse("3/1m").unwrap().per_address.max_failures,
            3
        );
        assert!(LoginLimits::parse("1/1m,2/2m,3/3m").is_err());
    }

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("42"), Ok(Duration::from_secs(42)));
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn usernames_follow_django_rules() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("a.b+c-d_e@f").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"x".repeat(151)).is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("semi;colon").is_err());
    }

    #[test]
    fn client_ids_are_registered_url_safe_and_looked_up_as_stored() {
        for ok in ["svc", "Svc-1.api_v2~x", "...", "a..b", &"x".repeat(100)] {
            assert!(ClientId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../users/victim",
            "a/b",
            "a b",
            "a%2Fb",
            "a?b",
            "a#b",
            "a@b",
            "é",
            "a\0b",
            &"x".repeat(101),
        ] {
            assert!(ClientId::parse(bad).is_err(), "{bad:?}");
        }
        // An earlier release's id is still found; nothing a database refuses ever is.
        for stored in ["..", "../users/victim", "a@b"] {
            assert!(ClientId::parse_stored(stored).is_ok(), "{stored}");
        }
        for bad in ["", "a b", "a:b", "a\0b", "é"] {
            assert!(ClientId::parse_stored(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        assert!(RedirectUri::parse("https://app.example/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:9000/cb?x=1").is_ok());
        assert!(RedirectUri::parse("/cb").is_err());
        assert!(RedirectUri::parse("https://app.example/cb#frag").is_err());
        assert!(RedirectUri::parse("https://app.example/c b").is_err());
    }

    #[test]
    fn unix_seconds_read_as_utc_dates() {
        assert_eq!(utc_datetime(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_datetime(1_796_180_645), "2026-12-02T03:04:05Z");
        assert_eq!(utc_datetime(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn csp_origins_of_registered_uris() {
        assert_eq!(
            csp_origin("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            csp_origin("com.example.app://cb").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(csp_origin("https://a;b/cb"), None);
        assert_eq!(csp_origin("https://x'y/cb"), None);
        assert_eq!(csp_origin("/relative"), None);
    }

    #[test]
    fn scopes_split_and_validate() {
        assert_eq!(
            split_scope(" openid  profile openid "),
            ["openid", "profile"]
        );
        assert!(valid_scope_token("admin"));
        assert!(!valid_scope_token("a\"b"));
    }

    #[test]
    fn cors_origins_are_exact_and_normalised() {
        let o = CorsOrigins::parse(
            " https://SPA.example.com/ , http://127.0.0.1:5173, https://admin.example:443;credentials ",
        )
        .unwrap();
        let got: Vec<_> = o
            .iter()
            .map(|o| (o.origin.as_str(), o.credentials))
            .collect();
        assert_eq!(
            got,
            [
                ("https://spa.example.com", false),
                ("http://127.0.0.1:5173", false),
                ("https://admin.example", true),
            ]
        );
        assert!(CorsOrigins::parse("").unwrap().is_empty());
        for bad in [
            "*",
            "https://*.example.com",
            "null",
            "spa.example.com",
            "ftp://x",
            "https://x/app",
            "https://x?y",
            "https://x:99999",
            "https://x;cookies",
            "https://x, https://X",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
