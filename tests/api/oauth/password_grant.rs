//! The password grant (RFC 6749 §4.3), for clients allowed it: a pair whose refresh token
//! rotates, and one `invalid_grant` for every bad credential.

use reqwest::header::CACHE_CONTROL;

use crate::both_backends;
use crate::helpers::{peek, status_json, verify_with_jwks, Backend};

use super::{assert_oauth_error, header, password_pair, refresh_grant, setup, token_of, PASSWORD};

both_backends!(
    password_grant_issues_a_pair_whose_refresh_token_rotates,
    password_grant_with_wrong_credentials_is_invalid_grant,
);

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
