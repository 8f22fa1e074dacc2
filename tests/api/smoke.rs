use crate::both_backends;
use crate::helpers::{spawn_app, verify_with_jwks, Backend};

both_backends!(login_returns_a_pair_that_verifies_against_the_jwks);

async fn login_returns_a_pair_that_verifies_against_the_jwks(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.add_user("alice", "correct horse battery", false).await;
    let (access, _refresh) = app.tokens("alice", "correct horse battery").await;
    let jwks = app.jwks().await;
    let claims = verify_with_jwks(&access, &jwks, &app.settings.issuer).expect("verifies");
    assert_eq!(claims["token_type"], "access");
    let me: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["preferred_username"], "alice");
}
