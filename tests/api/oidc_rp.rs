//! A real relying-party library (the `openidconnect` crate) drives the whole code flow over
//! HTTP: discovery, the authorization URL with PKCE S256 and a nonce, the login form, the
//! code exchange, id_token verification (signature via JWKS, nonce, at_hash), userinfo and
//! a refresh.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::reqwest;
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};
use crate::sso::hidden;

const REDIRECT: &str = "http://localhost:9777/rp/callback";

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii location").to_string())
        .unwrap_or_default()
}

async fn relying_party_library_completes_the_code_flow(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let issuer = app.settings.issuer.clone();
    assert_eq!(app.address, issuer);
    app.add_user("alice", "alice-password-1", false).await;
    app.add_client(&[
        "rp",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "openid",
        "profile",
        "email",
        "offline_access",
    ])
    .await;

    // The library's own HTTP client: never follows redirects (as its docs require).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).expect("issuer URL"),
        &http,
    )
    .await
    .expect("discovery (including the JWKS) succeeds");
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("rp".into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect URL"));

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(auth_url
        .as_str()
        .starts_with(&format!("{issuer}/authorize?")));
    assert_eq!(
        query_param(auth_url.as_str(), "code_challenge_method").as_deref(),
        Some("S256")
    );

    // The user agent: a cookie-keeping client that does what a browser does.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let resp = browser
        .get(auth_url.as_str())
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), 302);
    let login = location(&resp);
    assert!(login.starts_with("/login?"), "{login}");
    let page = browser
        .get(app.url(&login))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    let resp = browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", hidden(&page, "return_to").as_str()),
            ("username", "alice"),
            ("password", "alice-password-1"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303, "login succeeds");
    let resp = browser
        .get(app.url(&location(&resp)))
        .send()
        .await
        .expect("back to authorize");
    assert_eq!(resp.status(), 302);
    let callback = location(&resp);
    assert!(callback.starts_with(&format!("{REDIRECT}?")), "{callback}");
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(csrf_state.secret().as_str()),
        "state comes back unchanged"
    );
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(issuer.as_str())
    );
    let code = query_param(&callback, "code").expect("code in the callback");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint is known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an id_token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("id_token verifies: signature via JWKS, iss, aud, exp, nonce");
    assert_eq!(claims.issuer().as_str(), issuer);
    assert_eq!(
        claims.nonce().map(|n| n.secret().as_str()),
        Some(nonce.secret().as_str())
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    let expected_at_hash = claims
        .access_token_hash()
        .expect("the id_token carries at_hash");
    let actual_at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&id_verifier).expect("signing key"),
    )
    .expect("at_hash");
    assert_eq!(&actual_at_hash, expected_at_hash, "at_hash matches");
    // A different nonce is refused by the library.
    assert!(id_token
        .claims(&id_verifier, &Nonce::new("another-nonce".into()))
        .is_err());

    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().to_owned(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo endpoint is known")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );

    let refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .expect("token endpoint is known")
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let next = refreshed
        .refresh_token()
        .expect("the refresh token rotates");
    assert_ne!(next.secret(), refresh.secret());
    // The new access token works at userinfo too.
    let again: CoreUserInfoClaims = client
        .user_info(refreshed.access_token().to_owned(), None)
        .expect("userinfo endpoint is known")
        .request_async(&http)
        .await
        .expect("userinfo with the refreshed token");
    assert_eq!(again.subject(), claims.subject());
    // The spent refresh token is refused (strict reuse detection).
    assert!(client
        .exchange_refresh_token(refresh)
        .expect("token endpoint is known")
        .request_async(&http)
        .await
        .is_err());
}

both_backends!(relying_party_library_completes_the_code_flow);
