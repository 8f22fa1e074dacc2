//! The refresh_token grant (RFC 6749 §6): a refresh token belongs to the client it was
//! issued to.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{status_json, Backend};

use super::{assert_oauth_error, password_pair, refresh_grant, setup, token_of, PASSWORD};

both_backends!(refresh_token_of_another_client_is_invalid_grant,);

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
