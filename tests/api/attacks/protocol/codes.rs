//! Authorization codes in the wrong hands (injection of another client's code, redirect URI
//! or verifier), the issuer in the authorization response (RFC 9207), and the response types
//! that would put a token in the front channel.

use super::*;

both_backends!(
    an_injected_code_of_another_client_redirect_uri_or_verifier_is_invalid_grant_and_spent,
    the_authorization_response_names_the_issuer_and_discovery_says_so,
    response_type_token_and_the_hybrid_types_are_unsupported_and_an_unregistered_scope_is_invalid_scope,
);

/// Signs alice in with a fresh browser and returns the code of the callback.
async fn fresh_code(app: &TestApp) -> String {
    let cb = sign_in(app, &browser(), &authorize_url(app, &[]), ALICE).await;
    query_param(&cb, "code").expect("code")
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    status_json(app.post_form("/token", form).await).await
}

async fn an_injected_code_of_another_client_redirect_uri_or_verifier_is_invalid_grant_and_spent(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    // The attacker's own client, registered for the same callback.
    app.add_client(&["other", "--public", "--redirect-uri", REDIRECT])
        .await;
    let other_verifier = "attacker-verifier-0123456789-0123456789-0123456789";
    let attacks: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "another client",
            vec![
                ("client_id", "other"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        ),
        (
            "another redirect_uri",
            vec![
                ("client_id", "app"),
                ("redirect_uri", "http://localhost:9999/cb2"),
                ("code_verifier", VERIFIER),
            ],
        ),
        (
            "another PKCE verifier",
            vec![
                ("client_id", "app"),
                ("redirect_uri", REDIRECT),
                ("code_verifier", other_verifier),
            ],
        ),
        (
            "no PKCE verifier",
            vec![("client_id", "app"), ("redirect_uri", REDIRECT)],
        ),
    ];
    for (what, fields) in attacks {
        let code = fresh_code(&app).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        form.extend(fields);
        let (status, body) = token_request(&app, &form).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        // RFC 9700 §4.5: the code is in the wrong hands; the rightful exchange now fails too
        // and issues nothing.
        let before = snapshot(&app).await;
        let resp = exchange(&app, &code, Some(VERIFIER), "app").await;
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 400, "{what}: the code was still redeemable: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
        assert_eq!(snapshot(&app).await, before, "{what}: tokens were issued");
    }
    // Control: an untouched code is redeemed by its client.
    let code = fresh_code(&app).await;
    assert_eq!(
        exchange(&app, &code, Some(VERIFIER), "app").await.status(),
        200
    );
}

async fn the_authorization_response_names_the_issuer_and_discovery_says_so(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let b = browser();
    let cb = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    assert!(cb.starts_with(&format!("{REDIRECT}?")), "{cb}");
    assert_eq!(
        query_param(&cb, "iss").as_deref(),
        Some(app.settings.issuer.as_str())
    );
    // Error responses too (RFC 9207 §2): a refused scope, an unsupported response type.
    for extra in [
        [("scope", "openid not-registered")],
        [("response_type", "token")],
    ] {
        let resp = b
            .get(authorize_url(&app, &extra))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FOUND, "{extra:?}");
        let to = location(&resp);
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
        assert!(query_param(&to, "error").is_some(), "{to}");
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    }
}

/// RFC 9700 §2.1.2, RFC 6819 §4.4.2: no implicit grant, and no hybrid flow that would put
/// a token in the front channel. With a live session (so a supported request would be
/// answered with a code at once), each is sent back to the registered URI as
/// `unsupported_response_type` (RFC 6749 §4.1.2.1) with `state` and `iss`, carrying no code
/// or token; an unregistered scope goes back as `invalid_scope`. Nothing is stored.
async fn response_type_token_and_the_hybrid_types_are_unsupported_and_an_unregistered_scope_is_invalid_scope(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    setup(&app, false).await;
    let b = browser();
    let _ = sign_in(&app, &b, &authorize_url(&app, &[]), ALICE).await;
    let before = snapshot(&app).await;
    let refused = [
        ("response_type", "token", "unsupported_response_type"),
        ("response_type", "id_token", "unsupported_response_type"),
        (
            "response_type",
            "id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "code token", "unsupported_response_type"),
        (
            "response_type",
            "code id_token",
            "unsupported_response_type",
        ),
        (
            "response_type",
            "code id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "none", "unsupported_response_type"),
        ("scope", "openid not-registered", "invalid_scope"),
        ("scope", "openid admin", "invalid_scope"),
    ];
    for (name, value, error) in refused {
        let what = format!("{name}={value}");
        let resp = b
            .get(authorize_url(&app, &[(name, value)]))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::FOUND, "{what}");
        let to = location(&resp);
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{what}: {to}");
        assert!(!to.contains('#'), "{what}: a fragment in {to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{what}: {to}"
        );
        assert_eq!(
            query_param(&to, "state").as_deref(),
            Some("st-1"),
            "{what}: {to}"
        );
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.settings.issuer.as_str()),
            "{what}: {to}"
        );
        for carried in ["code", "access_token", "id_token", "token"] {
            assert!(
                query_param(&to, carried).is_none(),
                "{what}: {carried} in {to}"
            );
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request stored something"
    );
    // Control: the same session and request with response_type=code gets a code.
    let resp = b
        .get(authorize_url(&app, &[]))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(
        query_param(&location(&resp), "code").is_some(),
        "{}",
        location(&resp)
    );
}
