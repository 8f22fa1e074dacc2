//! Client authentication at `/token`, `/revoke` and `/introspect`: a wrong, missing or
//! hostile client identity is `invalid_client` (401, with a Basic challenge when Basic
//! was tried), RFC 6749 §2.3 and §5.2.

use reqwest::header::WWW_AUTHENTICATE;

use crate::both_backends;
use crate::helpers::Backend;

use super::{assert_client_credentials_response, assert_oauth_error, header, setup};

both_backends!(
    wrong_client_credentials_are_invalid_client,
    hostile_client_ids_are_invalid_client,
);

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
