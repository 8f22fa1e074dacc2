//! `POST /api/token/`: a username and a password (JSON or form) for an access and a refresh
//! token, the shape of both tokens, and one answer for every bad credential.

use reqwest::header::CACHE_CONTROL;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{peek, status_json, verify_with_jwks, Backend};

use super::{app_with_alice, assert_still_refreshes, pair_of, rotate, PASSWORD};

both_backends!(
    login_with_a_json_body_returns_an_access_and_a_refresh_token,
    login_with_a_form_body_returns_an_access_and_a_refresh_token,
    access_token_has_an_rfc9068_header_and_simplejwt_claims,
    refresh_token_has_its_own_typ_and_is_meant_for_gatehouse_only,
    wrong_password_gets_the_same_answer_as_an_unknown_user,
);

async fn login_with_a_json_body_returns_an_access_and_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let resp = app
        .post_json(
            "/api/token/",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access", "refresh"], "{body}");
    let (access, refresh) = pair_of(&body);
    assert_ne!(access, refresh);
    verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer).expect("access verifies");
}

async fn login_with_a_form_body_returns_an_access_and_a_refresh_token(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (status, body) = status_json(app.simplejwt_login("alice", PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    let (access, refresh) = pair_of(&body);
    verify_with_jwks(&access, &app.jwks().await, &app.settings.issuer).expect("access verifies");
    // The form-issued refresh token is a working one.
    rotate(&app, &refresh).await;
}

async fn access_token_has_an_rfc9068_header_and_simplejwt_claims(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, _) = app.tokens("alice", PASSWORD).await;
    let (header, claims) = peek(&access);
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let kid = header["kid"].as_str().expect("kid");
    let jwks = app.jwks().await;
    assert!(
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["kid"] == kid),
        "kid {kid} is not published in {jwks}"
    );

    let issuer = &app.settings.issuer;
    assert_eq!(claims["iss"], json!(issuer));
    let sub = claims["sub"].as_str().expect("sub");
    uuid::Uuid::parse_str(sub).expect("sub is a UUID");
    assert_eq!(claims["aud"], json!(issuer), "aud defaults to the issuer");
    assert_eq!(claims["client_id"], "simplejwt");
    let (exp, iat) = (
        claims["exp"].as_i64().expect("exp"),
        claims["iat"].as_i64().expect("iat"),
    );
    assert_eq!(exp - iat, 300, "ACCESS_TTL defaults to 5m");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(claims["scope"], "openid profile email");
    assert_eq!(claims["token_type"], "access");
    assert_eq!(
        claims["user_id"],
        json!(sub),
        "user_id is the sub for a user who was not imported"
    );
    // Two logins never share a jti.
    let (again, _) = app.tokens("alice", PASSWORD).await;
    assert_ne!(peek(&again).1["jti"], claims["jti"]);
}

async fn refresh_token_has_its_own_typ_and_is_meant_for_gatehouse_only(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    let (header, claims) = peek(&refresh);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "rt+jwt", "{header}");
    assert_ne!(header["typ"], peek(&access).0["typ"]);
    assert_eq!(claims["token_type"], "refresh");
    assert_eq!(claims["client_id"], "simplejwt");
    assert_eq!(claims["sub"], peek(&access).1["sub"]);
    assert_ne!(claims["jti"], peek(&access).1["jti"]);
}

async fn wrong_password_gets_the_same_answer_as_an_unknown_user(backend: Backend) {
    let Some(app) = app_with_alice(backend).await else {
        return;
    };
    let (_, refresh) = app.tokens("alice", PASSWORD).await;
    app.add_user("carol", PASSWORD, false).await;
    app.state
        .accounts
        .set_user_disabled("carol", true, gatehouse::accounts::LastAdmin::MayRemove)
        .await
        .expect("disable carol");

    let expected = json!({
        "detail": "No active account found with the given credentials",
        "code": "no_active_account",
    });
    for (username, password) in [
        ("alice", "wrong password"),
        ("alice", ""),
        ("mallory", "wrong password"),
        ("mallory", PASSWORD),
        ("carol", PASSWORD),
        ("al ice", PASSWORD),
        ("al\0ice", PASSWORD),
        ("ALICE", PASSWORD),
    ] {
        let resp = app
            .post_json(
                "/api/token/",
                json!({ "username": username, "password": password }),
            )
            .await;
        let (status, body) = status_json(resp).await;
        if password.is_empty() {
            // Blank is a field error before any check, as in DRF.
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["code"], "invalid", "{body}");
            assert_eq!(body["password"], json!(["This field may not be blank."]));
            continue;
        }
        assert_eq!(status, 401, "{username}: {body}");
        assert_eq!(body, expected, "{username}");
    }
    assert_still_refreshes(&app, &refresh).await;
    app.tokens("alice", PASSWORD).await;
}
