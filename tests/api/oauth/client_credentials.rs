//! The client_credentials grant (RFC 6749 §4.4) with `client_secret_basic` and
//! `client_secret_post`: an access token for the client itself, and no refresh token.

use crate::both_backends;
use crate::helpers::Backend;

use super::{assert_client_credentials_response, setup};

both_backends!(
    client_credentials_with_client_secret_basic_issues_an_access_token_only,
    client_credentials_with_client_secret_post_issues_an_access_token_only,
);

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
