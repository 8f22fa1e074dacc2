//! What the sessions lists say of a browser: a short description ("Firefox 128 on Linux")
//! made from the `User-Agent` header with a fixed vocabulary and at most four digits of
//! version, so what is stored and shown is bounded and never the header's own text (which a
//! client chooses freely).

/// Only the start of the header is read: every known product token comes early.
const READ: usize = 512;

/// Browsers, most specific first (Edge and Opera also say Chrome and Safari; Chrome says
/// Safari), with the token whose version follows.
const BROWSERS: [(&str, &str); 9] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "python-requests"),
];

/// Systems, most specific first (iOS says "like Mac OS X", Android says Linux).
const SYSTEMS: [(&str, &str); 7] = [
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// The description of `user_agent`; "unknown browser" when nothing is recognised.
pub fn describe(user_agent: &str) -> String {
    let mut end = user_agent.len().min(READ);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let ua = &user_agent[..end];
    let browser = BROWSERS.iter().find_map(|(token, name)| {
        let at = ua.find(token)?;
        // "Version/" is Safari's only next to "Safari/".
        if *token == "Version/" && !ua.contains("Safari/") {
            return None;
        }
        let major: String = ua[at + token.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .take(4)
            .collect();
        Some(match major.is_empty() {
            true => name.to_string(),
            false => format!("{name} {major}"),
        })
    });
    let system = SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("a browser on {s}"),
        (None, None) => "unknown browser".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_are_named_with_their_major_version_and_system() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge 120 on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari 17 on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari 17 on iOS"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36", "Chrome 119 on Android"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome 131 on Linux"),
            ("curl/8.5.0", "curl 8"),
            ("", "unknown browser"),
            ("<script>alert(1)</script>", "unknown browser"),
        ];
        for (ua, shown) in cases {
            assert_eq!(describe(ua), shown, "{ua}");
        }
    }

    #[test]
    fn a_hostile_header_gives_a_short_description_of_known_words() {
        let long = format!("(Linux) Firefox/{} {}", "9".repeat(5000), "é".repeat(5000));
        let shown = describe(&long);
        assert_eq!(shown, "Firefox 9999 on Linux");
        let tail = format!("{}Chrome/1", "x".repeat(600));
        assert_eq!(describe(&tail), "unknown browser", "only the start is read");
        assert_eq!(
            describe(&"é".repeat(300)),
            "unknown browser",
            "a cut inside a character"
        );
    }
}
