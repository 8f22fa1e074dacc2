//! `GET`/`POST /userinfo` (OIDC Core §5.3): the claims the token's scopes allow; RFC 6750
//! errors with a `Bearer` challenge.

use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    assemble_jwt, assert_bearer_token_required, assert_invalid_token, peek, status_json, Backend,
};

use super::{header, password_pair, setup, token_of, PASSWORD};

both_backends!(
    userinfo_returns_sub_and_preferred_username,
    userinfo_without_profile_scope_has_no_preferred_username,
    userinfo_refuses_bad_tokens_with_a_bearer_challenge,
    userinfo_refuses_a_client_credentials_token,
);

async fn userinfo_returns_sub_and_preferred_username(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, None).await;
    let access = token_of(&body, "access_token");
    let sub = peek(&access).1["sub"].clone();

    let resp = app.userinfo(&access).await;
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
    let (status, again) = status_json(app.userinfo(&sj).await).await;
    assert_eq!(status, 200);
    assert_eq!(again["sub"], sub);
}

async fn userinfo_without_profile_scope_has_no_preferred_username(backend: Backend) {
    let Some((app, _, pw)) = setup(backend).await else {
        return;
    };
    let body = password_pair(&app, &pw, Some("openid")).await;
    let (status, me) = status_json(app.userinfo(&token_of(&body, "access_token")).await).await;
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
        assert_invalid_token(app.userinfo(token).await, token).await;
    }
    // No token at all, or another scheme.
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .send()
        .await
        .expect("request");
    assert_bearer_token_required(resp, "no token").await;
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .expect("request");
    assert_bearer_token_required(resp, "basic credentials").await;
    // A body over the 64 KiB limit on POST is refused like at every other endpoint: 413.
    let resp = app
        .http
        .post(app.url("/userinfo"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("access_token={}", "x".repeat(1 << 20)))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 413, "1 MB at /userinfo: {body}");
    assert_eq!(
        body["error"], "invalid_request",
        "1 MB at /userinfo: {body}"
    );
    assert_eq!(app.userinfo(&access).await.status(), 200);
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
    assert_invalid_token(
        app.userinfo(&token_of(&body, "access_token")).await,
        "client_credentials token",
    )
    .await;
}
