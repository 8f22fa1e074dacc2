//! A user agent over reqwest: the login page and redirects, step by step.

use super::TestApp;

/// A user agent: keeps cookies and follows no redirect, so each step can be checked.
pub fn browser() -> reqwest::Client {
    super::install_tls_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` header, or "".
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A query parameter of `url`, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The value of the hidden form field `name` in a page, unescaped.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name}"))
        + marker.len();
    let end = html[start..].find('"').unwrap();
    unescape(&html[start..start + end])
}

/// The `action` of every form of a page, as written (a relative URL to resolve).
pub fn form_actions(html: &str) -> Vec<String> {
    html.split("<form ")
        .skip(1)
        .filter_map(|form| form.split("action=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(unescape)
        .collect()
}

/// Decodes the HTML character references askama writes (`&amp;`, `&#39;`, `&#x2f;`, ...).
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').unwrap_or(0);
        let entity = &tail[1..end.max(1)];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) if end > 0 => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Follows /authorize to the login form, signs alice in with `password`, and returns the
/// callback URL.
pub async fn sign_in(app: &TestApp, b: &reqwest::Client, url: &str, password: &str) -> String {
    let resp = b.get(url).send().await.unwrap();
    let status = resp.status();
    let login = location(&resp);
    assert_eq!(
        status,
        reqwest::StatusCode::FOUND,
        "{url}: {}",
        resp.text().await.unwrap()
    );
    assert!(login.starts_with("/login?"), "{login}");
    let resp = submit_login(app, b, &login, "alice", password).await;
    assert_eq!(
        resp.status(),
        reqwest::StatusCode::SEE_OTHER,
        "login should succeed"
    );
    let back = location(&resp);
    let resp = b.get(app.url(&back)).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::FOUND);
    location(&resp)
}

/// The text of the page at `path` of `app`, as the browser `b` gets it.
pub async fn page_text(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    b.get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Fills in and posts the login form of the page at `login` (a path of `app`, such as
/// `/login?return_to=…`) as the browser `b`: the page's own CSRF token and `return_to`, with
/// `username` and `password`. The answer comes back as it is (303 when signed in).
pub async fn submit_login(
    app: &TestApp,
    b: &reqwest::Client,
    login: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let page = page_text(app, b, login).await;
    b.post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", hidden(&page, "return_to").as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}
