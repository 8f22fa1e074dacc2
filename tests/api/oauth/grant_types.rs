//! Which grant a token request may name: unknown, missing, or not allowed for the client
//! (RFC 6749 §5.2).

use crate::both_backends;
use crate::helpers::Backend;

use super::{assert_oauth_error, setup, PASSWORD};

both_backends!(
    unknown_grant_type_is_unsupported_grant_type,
    missing_grant_type_is_invalid_request,
    grant_not_allowed_for_the_client_is_unauthorized_client,
);

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
