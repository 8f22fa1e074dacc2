//! `POST /revoke` (RFC 7009): a client revokes its own tokens; anything else revokes nothing.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{assemble_jwt, assert_invalid_token, peek, status_json, Backend};

use super::{
    assert_client_authentication_required, assert_inactive, assert_oauth_error, password_pair,
    refresh_grant, setup, token_of, PASSWORD,
};

both_backends!(
    revoked_refresh_token_no_longer_refreshes,
    revoking_garbage_or_unknown_tokens_returns_200,
    revoke_requires_client_authentication,
    revoked_access_token_is_refused_at_userinfo_and_introspection,
    another_client_cannot_revoke_my_refresh_token,
    concurrent_checks_of_revoked_and_live_access_tokens_each_get_their_own_answer,
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
    assert_eq!(app.userinfo(&access).await.status(), 200);
    let resp = app
        .post_form_basic(
            "/revoke",
            "app",
            &pw,
            &[("token", &access), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_invalid_token(app.userinfo(&access).await, "revoked access").await;
    assert_inactive(&app, &cc, &access, "revoked access").await;
}

async fn another_client_cannot_revoke_my_refresh_token(backend: Backend) {
    let Some((app, cc, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let refresh = token_of(&body, "refresh_token");
    let access = token_of(&body, "access_token");
    // RFC 7009 §2.1: the server verifies that the token was issued to the client asking;
    // if not, "the request is refused and the client is informed of the error" (400
    // invalid_request, as node-oidc-provider answers).
    for (what, token) in [("refresh", &refresh), ("access", &access)] {
        let resp = app
            .post_form_basic("/revoke", "cc", &cc, &[("token", token)])
            .await;
        assert_oauth_error(resp, 400, "invalid_request", what).await;
    }
    assert_eq!(app.userinfo(&access).await.status(), 200);
    let (status, next) = status_json(refresh_grant(&app, &pw, &refresh).await).await;
    assert_eq!(status, 200, "{next}");
}

/// Revocation reads that arrive together are answered by one query (`db::batched`): each
/// check still gets the answer for its own token, whether revoked by itself, with its
/// family, or live.
async fn concurrent_checks_of_revoked_and_live_access_tokens_each_get_their_own_answer(
    backend: Backend,
) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let [by_itself, with_family, live] = [
        password_pair(&app, &pw, None).await,
        password_pair(&app, &pw, None).await,
        password_pair(&app, &pw, None).await,
    ];
    let access = token_of(&by_itself, "access_token");
    let form = [
        ("token", access.as_str()),
        ("token_type_hint", "access_token"),
    ];
    let resp = app.post_form_basic("/revoke", "app", &pw, &form).await;
    assert_eq!(resp.status(), 200);
    let family_refresh = token_of(&with_family, "refresh_token");
    let resp = app
        .post_form_basic("/revoke", "app", &pw, &[("token", &family_refresh)])
        .await;
    assert_eq!(resp.status(), 200);

    let expected = [
        (token_of(&by_itself, "access_token"), 401),
        (token_of(&with_family, "access_token"), 401),
        (token_of(&live, "access_token"), 200),
    ];
    let checks = (0..60).map(|i| {
        let (token, status) = &expected[i % 3];
        let app = &app;
        async move {
            let resp = app
                .post_json("/api/token/verify/", json!({ "token": token }))
                .await;
            (i % 3, resp.status().as_u16(), *status)
        }
    });
    for (which, got, wanted) in futures_util::future::join_all(checks).await {
        assert_eq!(
            got, wanted,
            "token {which} of [revoked, family revoked, live]"
        );
    }
}
