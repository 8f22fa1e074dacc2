//! Requests and what their answers must be.

/// `POST /token` with the password grant and `client_secret_basic`.
#[allow(clippy::too_many_arguments)]
pub async fn password_grant(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> reqwest::Response {
    http.post(format!("{base}/token"))
        .basic_auth(client_id, Some(client_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", scope),
        ])
        .send()
        .await
        .expect("request")
}

/// A response's status and JSON body; panics with the raw text when the body is not JSON.
pub async fn status_json(resp: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = resp.status();
    let text = resp.text().await.expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: the body is not JSON: {text:?}"));
    (status, body)
}

/// RFC 6750 §3.1: a bearer token was presented and refused: 401 `invalid_token`, and a
/// challenge that names the error.
pub async fn assert_invalid_token(resp: reqwest::Response, what: &str) {
    let challenge = www_authenticate(&resp);
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    assert_eq!(
        challenge, r#"Bearer realm="gatehouse", error="invalid_token""#,
        "{what}"
    );
}

/// RFC 6750 §3.1: no bearer token at all (none sent, or another scheme): 401 with a bare
/// challenge that names no error.
pub async fn assert_bearer_token_required(resp: reqwest::Response, what: &str) {
    let challenge = www_authenticate(&resp);
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_token", "{what}: {body}");
    assert_eq!(challenge, r#"Bearer realm="gatehouse""#, "{what}");
}

fn www_authenticate(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
