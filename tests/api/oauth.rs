//! The OAuth 2.0 endpoints: `/token` (client_credentials, password, refresh_token; RFC 6749
//! §5.2 errors), `/revoke` (RFC 7009), `/introspect` (RFC 7662) and `/userinfo` (OIDC Core
//! §5.3, RFC 6750 errors).

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    assemble_jwt, peek, spawn_app, spawn_app_with, status_json, verify_with_jwks, Backend, TestApp,
};

const PASSWORD: &str = "correct horse battery";

/// A fresh server with the user `alice`, the client_credentials client `cc` (scope `api`)
/// and the confidential password client `app`; returns the two secrets.
async fn setup(backend: Backend) -> Option<(TestApp, String, String)> {
    let app = spawn_app(backend).await?;
    let (cc, pw) = prepare(&app).await;
    Some((app, cc, pw))
}

async fn prepare(app: &TestApp) -> (String, String) {
    app.add_user("alice", PASSWORD, false).await;
    let cc = app
        .add_client(&[
            "cc",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
            "--introspect-any",
        ])
        .await
        .expect("cc is confidential");
    let pw = app
        .add_client(&["app", "--grant", "password", "refresh_token"])
        .await
        .expect("app is confidential");
    (cc, pw)
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// An RFC 6749 §5.2 error with the expected status and code, and a description.
async fn assert_oauth_error(resp: reqwest::Response, status: u16, error: &str, what: &str) {
    let (got, body) = status_json(resp).await;
    assert_eq!(got.as_u16(), status, "{what}: {body}");
    assert_eq!(body["error"], error, "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
}

/// The password grant for `alice` through the client `app`; returns the token response.
async fn password_pair(app: &TestApp, secret: &str, scope: Option<&str>) -> Value {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let (status, body) =
        status_json(app.post_form_basic("/token", "app", secret, &form).await).await;
    assert_eq!(status, 200, "password grant: {body}");
    body
}

async fn refresh_grant(app: &TestApp, secret: &str, token: &str) -> reqwest::Response {
    app.post_form_basic(
        "/token",
        "app",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn introspect(app: &TestApp, secret: &str, token: &str) -> Value {
    let resp = app
        .post_form_basic("/introspect", "cc", secret, &[("token", token)])
        .await;
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "introspect: {body}");
    body
}

async fn assert_inactive(app: &TestApp, secret: &str, token: &str, what: &str) {
    let body = introspect(app, secret, token).await;
    assert_eq!(body, json!({ "active": false }), "{what}");
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

/// 401 with an RFC 6750 `WWW-Authenticate: Bearer` challenge.
async fn assert_bearer_refused(resp: reqwest::Response, what: &str) {
    let challenge = header(&resp, WWW_AUTHENTICATE);
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 401, "{what}: {body}");
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: WWW-Authenticate is {challenge:?}"
    );
    assert!(body["error"].is_string(), "{what}: {body}");
}

fn token_of(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------
// POST /token

both_backends!(
    client_credentials_with_client_secret_basic_issues_an_access_token_only,
    client_credentials_with_client_secret_post_issues_an_access_token_only,
    wrong_client_credentials_are_invalid_client,
    unknown_grant_type_is_unsupported_grant_type,
    missing_grant_type_is_invalid_request,
    grant_not_allowed_for_the_client_is_unauthorized_client,
    password_grant_issues_a_pair_whose_refresh_token_rotates,
    password_grant_with_wrong_credentials_is_invalid_grant,
    refresh_token_of_another_client_is_invalid_grant,
    unregistered_scope_is_invalid_scope,
    admin_scope_is_refused_for_a_non_admin_user,
    hostile_bodies_at_token_are_4xx,
);

async fn assert_client_credentials_response(app: &TestApp, resp: reqwest::Response) {
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    assert_eq!(header(&resp, PRAGMA), "no-cache");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 300, "{body}");
    assert_eq!(body["scope"], "api", "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "client_credentials must not issue a refresh token: {body}"
    );
    let access = token_of(&body, "access_token");
    let (header, _) = peek(&access);
    assert_eq!(header["typ"], "at+jwt");
    let claims = verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer)
        .expect("verifies against the JWKS");
    assert_eq!(claims["sub"], "cc", "sub is the client id: {claims}");
    assert_eq!(claims["client_id"], "cc");
    assert_eq!(claims["scope"], "api");
    assert_eq!(claims["aud"], json!(app.settings.issuer));
    assert!(claims.get("user_id").is_none(), "no user: {claims}");
}

async fn client_credentials_with_client_secret_basic_issues_an_access_token_only(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    let resp = app
        .post_form_basic("/token", "cc", &cc, &[("grant_type", "client_credentials")])
        .await;
    assert_client_credentials_response(&app, resp).await;
    // Asking for the registered scope by name is the same.
    let resp = app
        .post_form_basic(
            "/token",
            "cc",
            &cc,
            &[("grant_type", "client_credentials"), ("scope", "api")],
        )
        .await;
    assert_client_credentials_response(&app, resp).await;
}

async fn client_credentials_with_client_secret_post_issues_an_access_token_only(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    let resp = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "cc"),
                ("client_secret", &cc),
            ],
        )
        .await;
    assert_client_credentials_response(&app, resp).await;
}

async fn wrong_client_credentials_are_invalid_client(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let grant = ("grant_type", "client_credentials");
    let basic_cases = [
        ("cc", "wrong secret"),
        ("cc", ""),
        ("cc", pw.as_str()), // another client's secret
        ("nobody", cc.as_str()),
    ];
    for (id, secret) in basic_cases {
        let resp = app.post_form_basic("/token", id, secret, &[grant]).await;
        let challenge = header(&resp, WWW_AUTHENTICATE);
        assert_oauth_error(resp, 401, "invalid_client", &format!("basic {id}")).await;
        assert!(
            challenge.starts_with("Basic"),
            "a failed Basic authentication answers with a Basic challenge, got {challenge:?}"
        );
    }
    for (id, secret) in [("cc", "wrong secret"), ("nobody", cc.as_str())] {
        let resp = app
            .post_form(
                "/token",
                &[grant, ("client_id", id), ("client_secret", secret)],
            )
            .await;
        assert_oauth_error(resp, 401, "invalid_client", &format!("post {id}")).await;
    }
    // No authentication at all, and a confidential client naming itself without a secret.
    let resp = app.post_form("/token", &[grant]).await;
    assert_oauth_error(resp, 401, "invalid_client", "no client").await;
    let resp = app.post_form("/token", &[grant, ("client_id", "cc")]).await;
    assert_oauth_error(resp, 401, "invalid_client", "confidential without secret").await;
    // A garbled Authorization header.
    let resp = app
        .http
        .post(app.url("/token"))
        .header("Authorization", "Basic !!!not-base64!!!")
        .form(&[grant])
        .send()
        .await
        .expect("request");
    assert_oauth_error(resp, 401, "invalid_client", "garbled Basic").await;
    // The right secret still works afterwards.
    let resp = app.post_form_basic("/token", "cc", &cc, &[grant]).await;
    assert_client_credentials_response(&app, resp).await;
}

async fn unknown_grant_type_is_unsupported_grant_type(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    for grant in [
        "magic",
        "urn:ietf:params:oauth:grant-type:device_code",
        "implicit",
        &"x".repeat(5000),
    ] {
        let resp = app
            .post_form_basic("/token", "cc", &cc, &[("grant_type", grant)])
            .await;
        assert_oauth_error(
            resp,
            400,
            "unsupported_grant_type",
            &grant[..grant.len().min(40)],
        )
        .await;
    }
}

async fn missing_grant_type_is_invalid_request(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    let resp = app.post_form_basic("/token", "cc", &cc, &[]).await;
    assert_oauth_error(resp, 400, "invalid_request", "no grant_type").await;
    let resp = app
        .post_form_basic("/token", "cc", &cc, &[("scope", "api")])
        .await;
    assert_oauth_error(resp, 400, "invalid_request", "no grant_type, a scope").await;
}

async fn grant_not_allowed_for_the_client_is_unauthorized_client(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let resp = app
        .post_form_basic(
            "/token",
            "cc",
            &cc,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client", "password for cc").await;
    let resp = app
        .post_form_basic(
            "/token",
            "cc",
            &cc,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client", "refresh_token for cc").await;
    let resp = app
        .post_form_basic(
            "/token",
            "app",
            &pw,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_oauth_error(
        resp,
        400,
        "unauthorized_client",
        "client_credentials for app",
    )
    .await;
}

async fn password_grant_issues_a_pair_whose_refresh_token_rotates(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let resp = app
        .post_form_basic(
            "/token",
            "app",
            &pw,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"], "openid profile email",
        "admin and offline_access are only granted when asked for: {body}"
    );
    let access = token_of(&body, "access_token");
    let refresh0 = token_of(&body, "refresh_token");
    let claims =
        verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer).expect("verifies");
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["user_id"], claims["sub"]);
    assert_eq!(peek(&refresh0).0["typ"], "rt+jwt");

    // The refresh_token grant rotates.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh0).await).await;
    assert_eq!(status, 200, "{next}");
    let refresh1 = token_of(&next, "refresh_token");
    assert_ne!(refresh1, refresh0);
    assert_eq!(next["scope"], body["scope"]);
    assert_eq!(
        peek(&token_of(&next, "access_token")).1["sub"],
        claims["sub"]
    );
    // Reuse of the spent token is invalid_grant and ends the family.
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh0).await,
        400,
        "invalid_grant",
        "reuse",
    )
    .await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh1).await,
        400,
        "invalid_grant",
        "successor after reuse",
    )
    .await;
}

async fn password_grant_with_wrong_credentials_is_invalid_grant(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let mut answers = Vec::new();
    for (username, password) in [
        ("alice", "wrong password"),
        ("mallory", "wrong password"),
        ("mallory", PASSWORD),
    ] {
        let resp = app
            .post_form_basic(
                "/token",
                "app",
                &pw,
                &[
                    ("grant_type", "password"),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 400, "{username}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{username}: {body}");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "an unknown user gets the same answer as a wrong password: {answers:?}"
    );
    // Missing fields are invalid_request.
    let resp = app
        .post_form_basic(
            "/token",
            "app",
            &pw,
            &[("grant_type", "password"), ("username", "alice")],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_request", "no password").await;
    password_pair(&app, &pw, None).await;
}

async fn refresh_token_of_another_client_is_invalid_grant(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let other = app
        .add_client(&["other", "--grant", "password", "refresh_token"])
        .await
        .expect("secret");
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");

    let resp = app
        .post_form_basic(
            "/token",
            "other",
            &other,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_grant", "another client's token").await;
    // A simplejwt refresh token is the built-in client's, not app's.
    let (_, simplejwt_refresh) = app.tokens("alice", PASSWORD).await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &simplejwt_refresh).await,
        400,
        "invalid_grant",
        "simplejwt's token at app",
    )
    .await;
    // And app's token is refused at the simplejwt endpoint.
    let (status, answer) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "token_not_valid");

    // The failed attempts spent nothing: both owners still refresh.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
    let (status, next) = status_json(
        app.post_json(
            "/api/token/refresh/",
            json!({ "refresh": simplejwt_refresh }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{next}");
}

async fn unregistered_scope_is_invalid_scope(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    for scope in ["other", "api other", "admin", "openid"] {
        let resp = app
            .post_form_basic(
                "/token",
                "cc",
                &cc,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope", scope).await;
    }
    for scope in ["admin", "openid payroll"] {
        let resp = app
            .post_form_basic(
                "/token",
                "app",
                &pw,
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("scope", scope),
                ],
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope", scope).await;
    }
    // A registered subset is granted as asked.
    let body = password_pair(&app, &pw, Some("openid email")).await;
    assert_eq!(body["scope"], "openid email");
}

async fn admin_scope_is_refused_for_a_non_admin_user(backend: Backend) {
    let Some((app, _, _)) = setup(backend).await else {
        return;
    };
    app.add_user("root", "root password", true).await;
    let console = app
        .add_client(&[
            "console", "--grant", "password", "--scope", "openid", "profile", "admin",
        ])
        .await
        .expect("secret");
    let ask = |user: &'static str, password: &'static str| {
        let (app, console) = (&app, console.clone());
        async move {
            app.post_form_basic(
                "/token",
                "console",
                &console,
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                    ("scope", "openid admin"),
                ],
            )
            .await
        }
    };
    assert_oauth_error(
        ask("alice", PASSWORD).await,
        400,
        "invalid_scope",
        "admin for alice",
    )
    .await;
    // Without the right password an admin gets invalid_grant, not a scope hint.
    assert_oauth_error(
        ask("root", "wrong").await,
        400,
        "invalid_grant",
        "admin, wrong password",
    )
    .await;
    let (status, body) = status_json(ask("root", "root password").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid admin");
    assert!(
        body.get("refresh_token").is_none(),
        "console has no refresh_token grant"
    );
    // Alice still gets a token without admin.
    let resp = app
        .post_form_basic(
            "/token",
            "console",
            &console,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid profile");
}

async fn hostile_bodies_at_token_are_4xx(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let big = format!("grant_type=client_credentials&pad={}", "x".repeat(1 << 20));
    let cases: Vec<(&str, String, u16)> = vec![
        ("application/x-www-form-urlencoded", big, 413),
        (
            "application/json",
            json!({ "grant_type": "client_credentials" }).to_string(),
            400,
        ),
        ("text/plain", "grant_type=client_credentials".into(), 400),
        (
            "application/x-www-form-urlencoded",
            "grant_type=client_credentials&grant_type=password".into(),
            400,
        ),
    ];
    for path in ["/token", "/revoke", "/introspect"] {
        for (content_type, body, status) in &cases {
            let resp = app
                .http
                .post(app.url(path))
                .basic_auth("cc", Some(&cc))
                .header(CONTENT_TYPE, *content_type)
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {content_type}: no answer: {e}"));
            let (got, answer) = status_json(resp).await;
            assert_eq!(
                got.as_u16(),
                *status,
                "{path} {content_type} {}: {answer}",
                &body[..body.len().min(60)]
            );
            assert_eq!(answer["error"], "invalid_request", "{path}: {answer}");
            assert!(answer["error_description"].is_string(), "{answer}");
        }
    }
    // Two client authentication methods at once are refused.
    let resp = app
        .post_form_basic(
            "/token",
            "cc",
            &cc,
            &[("grant_type", "client_credentials"), ("client_secret", &cc)],
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_request", "basic and post").await;
    // Nothing changed.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

// ---------------------------------------------------------------------------------------
// POST /revoke (RFC 7009)

both_backends!(
    revoked_refresh_token_no_longer_refreshes,
    revoking_garbage_or_unknown_tokens_returns_200,
    revoke_requires_client_authentication,
    revoked_access_token_is_refused_at_userinfo_and_introspection,
    another_client_cannot_revoke_my_refresh_token,
);

async fn revoked_refresh_token_no_longer_refreshes(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let other_family = token_of(&password_pair(&app, &pw, None).await, "refresh_token");
    for hint in [Some("refresh_token"), None] {
        let mut form = vec![("token", refresh.as_str())];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        let resp = app.post_form_basic("/revoke", "app", &pw, &form).await;
        assert_eq!(resp.status(), 200, "revoking (again) is 200");
    }
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "after revoke",
    )
    .await;
    assert_inactive(&app, &cc, &refresh, "revoked refresh").await;
    // Only that family ended.
    let (status, next) = status_json(refresh_grant(&app, &pw, &other_family).await).await;
    assert_eq!(status, 200, "{next}");

    // A simplejwt refresh token revoked by its (public) client.
    let (_, sj) = app.tokens("alice", PASSWORD).await;
    let resp = app
        .post_form("/revoke", &[("client_id", "simplejwt"), ("token", &sj)])
        .await;
    assert_eq!(resp.status(), 200);
    let (status, answer) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": sj }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
}

async fn revoking_garbage_or_unknown_tokens_returns_200(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let forged = assemble_jwt(
        &json!({ "alg": "none", "typ": "rt+jwt" }),
        &peek(&refresh).1,
        "",
    );
    for token in ["garbage", "a.b.c", "", forged.as_str()] {
        let resp = app
            .post_form_basic("/revoke", "app", &pw, &[("token", token)])
            .await;
        assert_eq!(resp.status(), 200, "revoking {token:?}");
    }
    let resp = app
        .post_form_basic(
            "/revoke",
            "app",
            &pw,
            &[("token", "garbage"), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    // A missing token parameter is a malformed request.
    let resp = app.post_form_basic("/revoke", "app", &pw, &[]).await;
    assert_oauth_error(resp, 400, "invalid_request", "no token").await;
    // The forged copy did not revoke the genuine token.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

/// `path` refuses `token` without client credentials, with a wrong secret (401 and a Basic
/// challenge) and with a confidential client's id but no secret.
async fn assert_client_authentication_required(
    app: &TestApp,
    path: &str,
    client_id: &str,
    token: &str,
) {
    let resp = app.post_form(path, &[("token", token)]).await;
    assert_oauth_error(resp, 401, "invalid_client", "no client auth").await;
    let resp = app
        .post_form_basic(path, client_id, "wrong", &[("token", token)])
        .await;
    let challenge = header(&resp, WWW_AUTHENTICATE);
    assert_oauth_error(resp, 401, "invalid_client", "wrong secret").await;
    assert!(challenge.starts_with("Basic"), "{challenge:?}");
    let resp = app
        .post_form(path, &[("token", token), ("client_id", client_id)])
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "confidential, no secret").await;
}

async fn revoke_requires_client_authentication(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");

    assert_client_authentication_required(&app, "/revoke", "app", &refresh).await;
    // None of these revoked anything.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

async fn revoked_access_token_is_refused_at_userinfo_and_introspection(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    assert_eq!(userinfo(&app, &access).await.status(), 200);
    let resp = app
        .post_form_basic(
            "/revoke",
            "app",
            &pw,
            &[("token", &access), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_bearer_refused(userinfo(&app, &access).await, "revoked access").await;
    assert_inactive(&app, &cc, &access, "revoked access").await;
}

async fn another_client_cannot_revoke_my_refresh_token(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let access = token_of(&body, "access_token");
    for token in [&refresh, &access] {
        let resp = app
            .post_form_basic("/revoke", "cc", &cc, &[("token", token)])
            .await;
        assert!(
            resp.status().is_client_error() || resp.status() == 200,
            "{}",
            resp.status()
        );
    }
    assert_eq!(userinfo(&app, &access).await.status(), 200);
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

// ---------------------------------------------------------------------------------------
// POST /introspect (RFC 7662)

both_backends!(
    introspection_reports_a_valid_access_token_active_with_its_claims,
    introspection_reports_garbage_revoked_and_spent_tokens_inactive,
    introspection_reports_an_expired_access_token_inactive,
    introspection_requires_client_authentication,
);

async fn introspection_reports_a_valid_access_token_active_with_its_claims(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let claims = peek(&access).1;
    let info = introspect(&app, &cc, &access).await;
    assert_eq!(info["active"], true, "{info}");
    for field in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "exp",
        "iat",
        "jti",
        "scope",
    ] {
        assert_eq!(info[field], claims[field], "{field}: {info}");
    }
    assert_eq!(info["client_id"], "app");
    assert_eq!(info["username"], "alice", "{info}");
    assert_eq!(info["token_type"], "Bearer", "{info}");

    // A client_credentials token introspects as the client's.
    let (_, cc_body) = status_json(
        app.post_form_basic("/token", "cc", &cc, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    let cc_access = token_of(&cc_body, "access_token");
    let info = introspect(&app, &cc, &cc_access).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "cc");
    assert_eq!(info["scope"], "api");
    // RFC 7662 §2.2: `username` is a string when present; a client has none.
    assert!(
        info.get("username").is_none_or(Value::is_string),
        "username must be omitted, not null: {info}"
    );

    // A live refresh token is active, but says it is a refresh token (type confusion is
    // the caller's to avoid: it is not a Bearer access token).
    let refresh = token_of(&body, "refresh_token");
    let info = introspect(&app, &cc, &refresh).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["token_type"], "refresh_token", "{info}");
    assert_ne!(info["token_type"], "Bearer");
}

async fn introspection_reports_garbage_revoked_and_spent_tokens_inactive(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    for garbage in ["garbage", "a.b.c", ""] {
        assert_inactive(&app, &cc, garbage, garbage).await;
    }
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let refresh0 = token_of(&body, "refresh_token");
    // Forgeries of a genuine token.
    let (header, mut claims) = peek(&access);
    let forged_none = assemble_jwt(
        &json!({ "alg": "none", "typ": "at+jwt", "kid": header["kid"] }),
        &claims,
        "",
    );
    claims["scope"] = json!("openid admin");
    let signature = access.rsplit('.').next().expect("signature");
    let tampered = assemble_jwt(&header, &claims, signature);
    assert_inactive(&app, &cc, &forged_none, "alg none").await;
    assert_inactive(&app, &cc, &tampered, "tampered").await;

    // Spent.
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh0).await).await;
    assert_eq!(status, 200, "{next}");
    assert_inactive(&app, &cc, &refresh0, "spent refresh").await;
    // Introspecting a spent token is not a reuse: the successor lives on.
    let refresh1 = token_of(&next, "refresh_token");
    assert_eq!(introspect(&app, &cc, &refresh1).await["active"], true);

    // Blacklisted (simplejwt) and revoked (RFC 7009).
    let (_, sj) = app.tokens("alice", PASSWORD).await;
    let resp = app
        .post_json("/api/token/blacklist/", json!({ "refresh": sj }))
        .await;
    assert_eq!(resp.status(), 200);
    assert_inactive(&app, &cc, &sj, "blacklisted").await;
    let resp = app
        .post_form_basic("/revoke", "app", &pw, &[("token", &refresh1)])
        .await;
    assert_eq!(resp.status(), 200);
    assert_inactive(&app, &cc, &refresh1, "revoked").await;
    // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the
    // same grant (here: its refresh family).
    assert_inactive(&app, &cc, &access, "access of a revoked family").await;
}

async fn introspection_reports_an_expired_access_token_inactive(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("1s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    let (cc, pw) = prepare(&app).await;
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let refresh = token_of(&body, "refresh_token");
    assert_eq!(introspect(&app, &cc, &access).await["active"], true);
    app.advance(1);
    assert_eq!(
        introspect(&app, &cc, &access).await,
        json!({ "active": false }),
        "an expired access token must introspect inactive"
    );
    assert_bearer_refused(userinfo(&app, &access).await, "expired access").await;
    // The refresh token lives on.
    assert_eq!(introspect(&app, &cc, &refresh).await["active"], true);
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

async fn introspection_requires_client_authentication(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");

    assert_client_authentication_required(&app, "/introspect", "cc", &access).await;
    // A public client has no credentials to present: naming one authenticates nobody, so
    // it must not open the endpoint to token scanning (RFC 7662 §2.1, §4).
    let resp = app
        .post_form(
            "/introspect",
            &[("token", &access), ("client_id", "simplejwt")],
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "public client id only").await;
    app.add_client(&[
        "spa",
        "--public",
        "--redirect-uri",
        "https://spa.example/cb",
    ])
    .await;
    let resp = app
        .post_form("/introspect", &[("token", &access), ("client_id", "spa")])
        .await;
    assert_oauth_error(resp, 401, "invalid_client", "registered public client").await;
    // Authenticated, it works.
    assert_eq!(introspect(&app, &cc, &access).await["active"], true);
}

// ---------------------------------------------------------------------------------------
// /userinfo (OIDC Core §5.3, RFC 6750)

both_backends!(
    userinfo_returns_sub_and_preferred_username,
    userinfo_without_profile_scope_has_no_preferred_username,
    userinfo_refuses_bad_tokens_with_a_bearer_challenge,
    userinfo_refuses_a_client_credentials_token,
    disabled_user_loses_userinfo_and_refresh,
    deleted_user_loses_userinfo_and_refresh,
);

async fn userinfo_returns_sub_and_preferred_username(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let sub = peek(&access).1["sub"].clone();

    let resp = userinfo(&app, &access).await;
    assert_eq!(header(&resp, CACHE_CONTROL), "no-store");
    let (status, me) = status_json(resp).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["sub"], sub);
    assert_eq!(me["preferred_username"], "alice");
    // POST with the header, and POST with a form access_token (RFC 6750 §2.2).
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("request");
    let (status, posted) = status_json(resp).await;
    assert_eq!((status, &posted), (StatusCode::OK, &me));
    let (status, form) = status_json(
        app.post_form("/userinfo", &[("access_token", &access)])
            .await,
    )
    .await;
    assert_eq!((status, &form), (StatusCode::OK, &me));
    // The simplejwt token of the same user names the same subject.
    let (sj, _) = app.tokens("alice", PASSWORD).await;
    let (status, again) = status_json(userinfo(&app, &sj).await).await;
    assert_eq!(status, 200);
    assert_eq!(again["sub"], sub);
}

async fn userinfo_without_profile_scope_has_no_preferred_username(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, Some("openid")).await;
    let (status, me) = status_json(userinfo(&app, &token_of(&body, "access_token")).await).await;
    assert_eq!(status, 200, "{me}");
    assert!(me["sub"].is_string());
    assert!(me.get("preferred_username").is_none(), "{me}");
}

async fn userinfo_refuses_bad_tokens_with_a_bearer_challenge(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let (header_json, claims) = peek(&access);
    let forged = assemble_jwt(
        &json!({ "alg": "none", "typ": "at+jwt", "kid": header_json["kid"] }),
        &claims,
        "",
    );
    for token in ["garbage", "a.b.c", forged.as_str(), &format!("{access}x")] {
        assert_bearer_refused(userinfo(&app, token).await, token).await;
    }
    // No token at all, or another scheme.
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .send()
        .await
        .expect("request");
    assert_bearer_refused(resp, "no token").await;
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .expect("request");
    assert_bearer_refused(resp, "basic credentials").await;
    // A hostile body on POST is a 4xx, not a 5xx.
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("access_token={}", "x".repeat(1 << 20)))
        .send()
        .await
        .expect("request");
    assert!(
        resp.status().is_client_error(),
        "1 MB at /userinfo: {}",
        resp.status()
    );
    assert_eq!(userinfo(&app, &access).await.status(), 200);
}

async fn userinfo_refuses_a_client_credentials_token(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    let (status, body) = status_json(
        app.post_form_basic("/token", "cc", &cc, &[("grant_type", "client_credentials")])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_bearer_refused(
        userinfo(&app, &token_of(&body, "access_token")).await,
        "client_credentials token",
    )
    .await;
}

async fn disabled_user_loses_userinfo_and_refresh(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let (access, refresh) = (
        token_of(&body, "access_token"),
        token_of(&body, "refresh_token"),
    );
    let (sj_access, sj_refresh) = app.tokens("alice", PASSWORD).await;
    assert_eq!(userinfo(&app, &access).await.status(), 200);

    let out = app.cli(&["user", "disable", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);

    assert_bearer_refused(userinfo(&app, &access).await, "disabled, oauth token").await;
    assert_bearer_refused(
        userinfo(&app, &sj_access).await,
        "disabled, simplejwt token",
    )
    .await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "disabled, refresh grant",
    )
    .await;
    let (status, answer) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": sj_refresh }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "token_not_valid");
    assert_inactive(&app, &cc, &access, "disabled user's access").await;
    let (status, answer) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "no_active_account");

    // Enabling again lets alice log in, but the old refresh tokens stay dead.
    let out = app.cli(&["user", "enable", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    app.tokens("alice", PASSWORD).await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "re-enabled, old refresh",
    )
    .await;
}

async fn deleted_user_loses_userinfo_and_refresh(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let (access, refresh) = (
        token_of(&body, "access_token"),
        token_of(&body, "refresh_token"),
    );
    let out = app.cli(&["user", "delete", "alice"], "").await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_bearer_refused(userinfo(&app, &access).await, "deleted user").await;
    assert_oauth_error(
        refresh_grant(&app, &pw, &refresh).await,
        400,
        "invalid_grant",
        "deleted user, refresh grant",
    )
    .await;
    assert_inactive(&app, &cc, &access, "deleted user's access").await;
    // A new alice is another person: the old tokens do not come back to life.
    app.add_user("alice", PASSWORD, false).await;
    assert_bearer_refused(userinfo(&app, &access).await, "old token, new alice").await;
}

// ---------------------------------------------------------------------------------------
// Hostile client identifiers.

both_backends!(hostile_client_ids_are_invalid_client);

async fn hostile_client_ids_are_invalid_client(backend: Backend) {
    let Some((app, cc, _)) = setup(backend).await else {
        return;
    };
    let long = "c".repeat(10 * 1024);
    for id in [
        "c\0c",
        "cc\0",
        "\0",
        "cc\u{7f}",
        "ćć",
        "' OR 1=1 --",
        long.as_str(),
    ] {
        for path in ["/token", "/revoke", "/introspect"] {
            let form = [
                ("grant_type", "client_credentials"),
                ("token", "x"),
                ("client_id", id),
                ("client_secret", cc.as_str()),
            ];
            let resp = app.post_form(path, &form).await;
            let shown = &id[..id.len().min(20)];
            assert_oauth_error(
                resp,
                401,
                "invalid_client",
                &format!("{path} post {shown:?}"),
            )
            .await;
            let resp = app.post_form_basic(path, id, &cc, &form[..2]).await;
            assert_oauth_error(
                resp,
                401,
                "invalid_client",
                &format!("{path} basic {shown:?}"),
            )
            .await;
        }
    }
}
