//! Token attacks beyond the forgeries of `simplejwt::forged_tokens` (alg none, HS256 with the
//! public key, tampered claims, a foreign key under our kid, malformed JWTs): header members
//! that point at other keys (`jku`, `x5u`, `jwk`, `x5c`), hostile `kid`s, `crit`, hostile
//! payloads signed with the server's *own* key, a key that was removed, and an id_token or a
//! refresh token where an access token is expected. Every refusal is a 4xx with a clear error
//! body, and the snapshot of what is stored is the same before and after.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{attacker_key, server_signing_key, snapshot, AttackerServer, RawSigner};
use crate::both_backends;
use crate::helpers::{
    assert_invalid_token, peek, spawn_app, spawn_app_with, status_json, Backend, TestApp,
};

both_backends!(
    jku_x5u_jwk_and_x5c_are_never_fetched_and_only_the_servers_own_key_verifies,
    a_kid_that_is_a_path_sql_10kb_long_a_number_or_null_and_duplicate_header_members_are_refused,
    a_token_whose_crit_names_an_extension_is_refused_though_signed_by_the_server,
    hostile_payloads_signed_with_the_servers_key_are_refused_and_never_crash_the_server,
    a_token_signed_by_a_removed_key_is_refused_though_it_has_not_expired,
    id_tokens_and_refresh_tokens_are_refused_wherever_an_access_token_is_expected,
    a_tokens_claims_under_another_kinds_typ_are_refused_though_signed_by_the_server,
    a_token_from_another_issuer_or_for_another_audience_is_refused_though_signed_by_the_server,
);

const PASSWORD: &str = "alice's long password";

/// A server with `alice`, a confidential resource server `rs` that may introspect any
/// token, and alice's genuine (access, refresh) pair from `/api/token/`.
pub(super) async fn setup(app: &TestApp) -> (String, String, String) {
    app.add_user("alice", PASSWORD, false).await;
    let rs_secret = app
        .add_client(&["rs", "--grant", "client_credentials", "--introspect-any"])
        .await
        .expect("rs is confidential");
    let (access, refresh) = app.tokens("alice", PASSWORD).await;
    (rs_secret, access, refresh)
}

fn ensure_body(status: StatusCode, body: &Value, what: &str) {
    assert!(status.is_client_error(), "{what}: {status} {body}");
    let clear = ["error_description", "detail"]
        .iter()
        .any(|k| body[k].as_str().is_some_and(|d| !d.is_empty()));
    assert!(clear, "{what}: no clear error in {body}");
}

/// `token` is refused as an access token (`/userinfo`, `/admin/keys`, `/api/token/verify/`),
/// as a refresh token (`/api/token/refresh/`, `/api/token/blacklist/`, the refresh grant)
/// and is inactive at `/introspect`: each a 4xx with a clear error body.
pub(super) async fn assert_refused_everywhere(
    app: &TestApp,
    rs_secret: &str,
    token: &str,
    what: &str,
) {
    assert_invalid_token(app.userinfo(token).await, &format!("{what}: /userinfo")).await;
    let resp = app
        .http
        .get(app.url("/admin/keys"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_invalid_token(resp, &format!("{what}: /admin/keys")).await;
    for (path, field) in [
        ("/api/token/verify/", "token"),
        ("/api/token/refresh/", "refresh"),
        ("/api/token/blacklist/", "refresh"),
    ] {
        let (status, body) = status_json(app.post_json(path, json!({ field: token })).await).await;
        let what = format!("{what}: {path}");
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "token_not_valid", "{what}: {body}");
        ensure_body(status, &body, &what);
    }
    let (status, body) = status_json(
        app.post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "simplejwt"),
                ("refresh_token", token),
            ],
        )
        .await,
    )
    .await;
    // RFC 6749 §5.2: invalid_grant is a 400.
    assert_eq!(status, 400, "{what}: /token {body}");
    assert_eq!(body["error"], "invalid_grant", "{what}: /token {body}");
    ensure_body(status, &body, &format!("{what}: /token"));
    let (status, body) = status_json(
        app.post_form_basic("/introspect", "rs", rs_secret, &[("token", token)])
            .await,
    )
    .await;
    assert_eq!(status, 200, "{what}: /introspect {body}");
    assert_eq!(body, json!({ "active": false }), "{what}: /introspect");
}

/// The access token's claims as the server wrote them; signing them again with the
/// server's key must give a token every endpoint accepts (the control of each attack).
pub(super) async fn assert_accepted_as_access(app: &TestApp, token: &str, what: &str) {
    let (status, body) = status_json(app.userinfo(token).await).await;
    assert_eq!(status, 200, "{what} (control) at /userinfo: {body}");
    let (status, body) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": token }))
            .await,
    )
    .await;
    assert_eq!(
        status, 200,
        "{what} (control) at /api/token/verify/: {body}"
    );
}

async fn jku_x5u_jwk_and_x5c_are_never_fetched_and_only_the_servers_own_key_verifies(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let (theirs, their_jwk) = attacker_key();
    let evil = AttackerServer::start(json!({ "keys": [their_jwk] }).to_string()).await;
    let claims = peek(&access).1.to_string();
    // x5c holds base64 DER certificates; any bytes do: it must not even be parsed.
    let x5c = json!(["MIIBszCCAVmgAwIBAgIUXx", "AAAA"]);
    let pointers = [
        json!({ "jku": format!("{}/jwks.json", evil.base) }),
        json!({ "x5u": format!("{}/cert.pem", evil.base) }),
        json!({ "jwk": their_jwk }),
        json!({ "x5c": x5c }),
        json!({
            "jku": format!("{}/jwks.json", evil.base),
            "x5u": format!("{}/cert.pem", evil.base),
            "jwk": their_jwk,
            "x5c": x5c,
        }),
    ];
    let before = snapshot(&app).await;
    for extra in &pointers {
        // The attacker's key, under its own kid and under ours: refused.
        let forged = theirs.sign_raw(&theirs.header("at+jwt", extra.clone()), &claims);
        assert_refused_everywhere(&app, &rs_secret, &forged, &format!("attacker kid {extra}"))
            .await;
        let mut header: Value =
            serde_json::from_str(&theirs.header("at+jwt", extra.clone())).expect("header");
        header["kid"] = json!(ours.kid);
        let forged = theirs.sign_raw(&header.to_string(), &claims);
        assert_refused_everywhere(&app, &rs_secret, &forged, &format!("our kid {extra}")).await;
        // The server's own key: the members change nothing, the token is ours.
        let genuine = ours.sign_raw(&ours.header("at+jwt", extra.clone()), &claims);
        assert_accepted_as_access(&app, &genuine, &format!("our key with {extra}")).await;
    }
    assert_eq!(
        evil.hits(),
        0,
        "the server fetched something from the URL a token named"
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

async fn a_kid_that_is_a_path_sql_10kb_long_a_number_or_null_and_duplicate_header_members_are_refused(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let claims = peek(&access).1.to_string();
    let refresh_claims = peek(&refresh).1.to_string();
    assert_accepted_as_access(
        &app,
        &ours.sign_raw(&ours.header("at+jwt", json!({})), &claims),
        "our kid",
    )
    .await;
    let kids = [
        json!("../../etc/passwd"),
        json!("/dev/zero"),
        json!(format!("../{}", ours.kid)),
        json!("' OR 1=1 --"),
        json!(format!("{}' OR '1'='1", ours.kid)),
        json!("%00"),
        json!(format!("{}\u{0}", ours.kid)),
        json!("K".repeat(10 * 1024)),
        json!(42),
        json!(null),
        json!([ours.kid]),
        json!({ "$ne": "" }),
        json!(true),
        json!(ours.kid.to_uppercase()),
        json!(""),
    ];
    let before = snapshot(&app).await;
    for kid in &kids {
        let header = ours.header("at+jwt", json!({ "kid": kid }));
        let what = format!("kid {}", truncate(&kid.to_string()));
        let token = ours.sign_raw(&header, &claims);
        assert_refused_everywhere(&app, &rs_secret, &token, &what).await;
        let header = ours.header("rt+jwt", json!({ "kid": kid }));
        let token = ours.sign_raw(&header, &refresh_claims);
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh, {what}")).await;
    }
    // No kid at all.
    let header = json!({ "alg": "RS256", "typ": "at+jwt" }).to_string();
    assert_refused_everywhere(&app, &rs_secret, &ours.sign_raw(&header, &claims), "no kid").await;
    // Duplicate header members: a parser keeping the first or the last would disagree with
    // another verifier about which key or algorithm applies.
    let kid = &ours.kid;
    let duplicated = [
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","kid":"other"}}"#),
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"other","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"none","alg":"RS256","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"RS256","typ":"rt+jwt","typ":"at+jwt","kid":"{kid}"}}"#),
    ];
    for header in &duplicated {
        let token = ours.sign_raw(header, &claims);
        assert_refused_everywhere(&app, &rs_secret, &token, header).await;
    }
    // A header nested deep, from someone without the key: read before any signature check,
    // so it must be refused without a crash.
    let (theirs, _) = super::attacker_key();
    let deep = format!(
        r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","x":{}{}}}"#,
        "[".repeat(2500),
        "]".repeat(2500)
    );
    let token = theirs.sign_raw(&deep, &claims);
    assert!(token.len() <= 8192, "short enough to be read");
    assert_refused_everywhere(&app, &rs_secret, &token, "header nested 2500 deep").await;
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

async fn a_token_whose_crit_names_an_extension_is_refused_though_signed_by_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let claims = peek(&access).1.to_string();
    let refresh_claims = peek(&refresh).1.to_string();
    let crits = [
        json!({ "crit": ["https://evil.example/must-understand"], "https://evil.example/must-understand": true }),
        // RFC 7797's unencoded payload: a verifier that ignored it would check other bytes.
        json!({ "crit": ["b64"], "b64": false }),
        json!({ "crit": ["exp"] }),
        json!({ "crit": [] }),
        json!({ "crit": "b64" }),
        json!({ "crit": null }),
    ];
    let before = snapshot(&app).await;
    for crit in &crits {
        let token = ours.sign_raw(&ours.header("at+jwt", crit.clone()), &claims);
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("access {crit}")).await;
        let token = ours.sign_raw(&ours.header("rt+jwt", crit.clone()), &refresh_claims);
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh {crit}")).await;
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
    // The refresh token whose claims were reused is untouched.
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": refresh }))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The genuine claims as JSON text with `member` replaced by `raw` (any JSON text).
fn with_raw(claims: &Value, member: &str, raw: &str) -> String {
    let mut others = claims.clone();
    others.as_object_mut().expect("object").remove(member);
    let text = others.to_string();
    format!("{{\"{member}\":{raw},{}", &text[1..])
}

async fn hostile_payloads_signed_with_the_servers_key_are_refused_and_never_crash_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    app.add_user("bob", "bob's long password", true).await;
    let (bob_access, _) = app.tokens("bob", "bob's long password").await;
    let bob_sub = peek(&bob_access).1["sub"].clone();
    let ours = server_signing_key(&app).await;
    let header = ours.header("at+jwt", json!({}));
    let (claims, refresh_claims) = (peek(&access).1, peek(&refresh).1);
    let text = claims.to_string();
    assert_accepted_as_access(&app, &ours.sign_raw(&header, &text), "genuine claims").await;

    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let payloads = vec![
        // Duplicate claims: a parser that keeps the last one would make this bob's token.
        (
            "duplicate sub",
            format!("{},\"sub\":{bob_sub}}}", &text[..text.len() - 1]),
        ),
        (
            "duplicate exp",
            format!("{},\"exp\":1}}", &text[..text.len() - 1]),
        ),
        (
            "duplicate scope",
            format!("{},\"scope\":\"admin\"}}", &text[..text.len() - 1]),
        ),
        // Numbers for strings and the reverse.
        ("sub a number", with_raw(&claims, "sub", "12345")),
        (
            "iss an array",
            with_raw(&claims, "iss", &json!([claims["iss"]]).to_string()),
        ),
        ("scope a number", with_raw(&claims, "scope", "1")),
        ("token_type a number", with_raw(&claims, "token_type", "0")),
        ("jti an object", with_raw(&claims, "jti", "{}")),
        (
            "exp a string",
            with_raw(&claims, "exp", &format!("\"{}\"", claims["exp"])),
        ),
        ("iat a string", with_raw(&claims, "iat", "\"0\"")),
        ("exp a float", with_raw(&claims, "exp", "1e10")),
        ("exp true", with_raw(&claims, "exp", "true")),
        ("exp null", with_raw(&claims, "exp", "null")),
        // Huge integers.
        ("exp 1e400", with_raw(&claims, "exp", "1e400")),
        ("exp 2^64", with_raw(&claims, "exp", "18446744073709551616")),
        (
            "exp -2^63-1",
            with_raw(&claims, "exp", "-9223372036854775809"),
        ),
        ("exp 400 digits", with_raw(&claims, "exp", &"9".repeat(400))),
        ("iat 2^64", with_raw(&claims, "iat", "18446744073709551616")),
        // Nesting.
        (
            "sub nested 2000 deep",
            with_raw(&claims, "sub", &deep(2000)),
        ),
        // Not a claim set at all.
        ("an array", json!([claims]).to_string()),
        ("a string", json!(text).to_string()),
        ("a number", "1".into()),
        ("null", "null".into()),
        (
            "no exp",
            with_raw(&claims, "exp", "0").replace("\"exp\":0,", ""),
        ),
        ("empty object", "{}".into()),
        ("trailing garbage", format!("{text}x")),
        ("two objects", format!("{text}{text}")),
    ];
    let before = snapshot(&app).await;
    for (what, payload) in &payloads {
        let token = ours.sign_raw(&header, payload);
        if token.len() > 8192 {
            // Longer than any token the server reads: refused unread.
            assert_refused_everywhere(&app, &rs_secret, &token, what).await;
            continue;
        }
        assert_refused_everywhere(&app, &rs_secret, &token, what).await;
        let rt = ours.sign_raw(
            &ours.header("rt+jwt", json!({})),
            &payload.replace(
                &format!("\"aud\":{}", claims["aud"]),
                &format!("\"aud\":{}", refresh_claims["aud"]),
            ),
        );
        assert_refused_everywhere(&app, &rs_secret, &rt, &format!("refresh, {what}")).await;
    }
    // Signed by the server's own key, so each has one right answer, and reading it must not
    // crash: an `exp` at the very ends of the range (the arithmetic on it must not overflow:
    // a panic would drop the connection), an `iat` that never comes, and an unknown claim
    // nested deep (RFC 7519 §4: ignored, so the token is good).
    let edge_cases = [
        (
            "exp i64::MAX",
            with_raw(&claims, "exp", &i64::MAX.to_string()),
            200,
        ),
        (
            "exp i64::MIN",
            with_raw(&claims, "exp", &i64::MIN.to_string()),
            401,
        ),
        (
            "iat i64::MAX",
            with_raw(&claims, "iat", &i64::MAX.to_string()),
            401,
        ),
        (
            "x nested 2000 deep",
            with_raw(&claims, "x", &deep(2000)),
            200,
        ),
    ];
    for (what, payload, expected) in &edge_cases {
        let token = ours.sign_raw(&header, payload);
        let (status, body) = status_json(app.userinfo(&token).await).await;
        assert_eq!(status, *expected, "{what} at /userinfo: {body}");
        let (status, body) = status_json(
            app.post_json("/api/token/verify/", json!({ "token": token }))
                .await,
        )
        .await;
        assert_eq!(status, *expected, "{what} at /api/token/verify/: {body}");
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

async fn a_token_signed_by_a_removed_key_is_refused_though_it_has_not_expired(backend: Backend) {
    // Every token lives 2 s with no leeway, so a retired key is removed 2 s after retirement.
    let Some(app) = spawn_app_with(backend, |args| {
        args.access_ttl = Some("2s".into());
        args.refresh_ttl = Some("2s".into());
        args.id_token_ttl = Some("2s".into());
        args.leeway = Some("0s".into());
    })
    .await
    else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let old: RawSigner = server_signing_key(&app).await;
    let fresh_claims = |app: &TestApp| {
        let mut claims = peek(&access).1;
        let now = app.clock.now();
        claims["iat"] = json!(now);
        claims["exp"] = json!(now + 3600);
        claims["jti"] = json!(format!("removed-key-{now}"));
        claims.to_string()
    };
    let header = old.header("at+jwt", json!({}));
    assert_accepted_as_access(
        &app,
        &old.sign_raw(&header, &fresh_claims(&app)),
        "current key",
    )
    .await;

    use gatehouse::keys::rotation::RotationKind;
    app.state
        .keys
        .rotate(None, RotationKind::Manual)
        .await
        .map(gatehouse::keys::rotation::RotationOutcome::combined)
        .expect("rotate");
    // Retired but published: its tokens still verify.
    assert_accepted_as_access(
        &app,
        &old.sign_raw(&header, &fresh_claims(&app)),
        "retired key",
    )
    .await;
    app.advance(3);
    app.state.keys.maintain_once().await.expect("upkeep");
    let gone = crate::helpers::eventually(5, || async {
        !app.stored_keys().await.iter().any(|k| k.kid == old.kid)
    })
    .await;
    assert!(gone, "the retired key was not removed");
    let gone_from_jwks = crate::helpers::eventually(5, || async {
        !app.jwks().await.to_string().contains(&old.kid)
    })
    .await;
    assert!(gone_from_jwks, "the removed key is still published");

    let before = snapshot(&app).await;
    let forged = old.sign_raw(&header, &fresh_claims(&app));
    assert_refused_everywhere(&app, &rs_secret, &forged, "removed key").await;
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

async fn id_tokens_and_refresh_tokens_are_refused_wherever_an_access_token_is_expected(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, _, _) = setup(&app).await;
    // An admin with every token kind, all carrying scope admin: only the access token may
    // open /admin.
    app.add_user("root", crate::helpers::ADMIN_PASSWORD, true)
        .await;
    let secret = app
        .add_client(&[
            "adm",
            "--grant",
            "password",
            "refresh_token",
            "--scope",
            "admin",
            "openid",
        ])
        .await
        .expect("confidential");
    let resp = crate::helpers::password_grant(
        &app.http,
        &app.address,
        "adm",
        &secret,
        "root",
        crate::helpers::ADMIN_PASSWORD,
        "admin openid",
    )
    .await;
    let (status, pair) = status_json(resp).await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().expect("access").to_string();
    let refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
    let sub = peek(&access).1["sub"].as_str().expect("sub").to_string();
    // An id_token as the code flow signs it (same signer, same claims), for root and adm.
    let now = app.clock.now();
    let id_claims = gatehouse::sso::id_token::IdClaims {
        iss: app.settings.issuer.clone(),
        sub,
        aud: "adm".into(),
        exp: now + 3600,
        iat: now,
        auth_time: now,
        nonce: Some("n".into()),
        sid: "sid".into(),
        at_hash: Some(gatehouse::sso::id_token::at_hash(
            &access,
            gatehouse::keys::Alg::Rs256,
        )),
        preferred_username: Some("root".into()),
        email: None,
        email_verified: None,
    };
    let id_token = app
        .state
        .tokens
        .keys
        .snapshot()
        .signer(gatehouse::keys::Alg::Rs256)
        .expect("signer")
        .sign(gatehouse::keys::store::TokenType::Id, &id_claims)
        .expect("sign");

    let admin_calls: [(reqwest::Method, &str, Option<Value>); 6] = [
        (reqwest::Method::GET, "/admin/keys", None),
        (
            reqwest::Method::POST,
            "/admin/keys/rotate",
            Some(json!({ "emergency": true })),
        ),
        (reqwest::Method::GET, "/admin/users", None),
        (
            reqwest::Method::POST,
            "/admin/users",
            Some(
                json!({ "username": "mallory", "password": "mallory's password", "is_admin": true }),
            ),
        ),
        (reqwest::Method::POST, "/admin/users/alice/disable", None),
        (reqwest::Method::GET, "/admin/audit", None),
    ];
    // Control: the access token opens the admin API.
    let resp = app
        .http
        .get(app.url("/admin/keys"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "the admin access token is refused");

    let before = snapshot(&app).await;
    for (kind, token) in [("id_token", &id_token), ("refresh token", &refresh)] {
        assert_invalid_token(
            app.userinfo(token).await,
            &format!("{kind} at GET /userinfo"),
        )
        .await;
        let resp = app
            .http
            .post(app.url("/userinfo"))
            .form(&[("access_token", token.as_str())])
            .send()
            .await
            .expect("request");
        assert_invalid_token(resp, &format!("{kind} in the body of POST /userinfo")).await;
        for (method, path, body) in &admin_calls {
            let mut req = app
                .http
                .request(method.clone(), app.url(path))
                .bearer_auth(token);
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.expect("request");
            assert_invalid_token(resp, &format!("{kind} at {method} {path}")).await;
        }
    }
    // simplejwt's verify accepts access and refresh tokens (DESIGN), never an id_token.
    let (status, body) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": id_token }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "id_token at /api/token/verify/: {body}");
    assert_eq!(body["code"], "token_not_valid");
    let (status, _) = status_json(
        app.post_json("/api/token/verify/", json!({ "token": refresh }))
            .await,
    )
    .await;
    assert_eq!(
        status, 200,
        "a live refresh token verifies like simplejwt's"
    );
    // RFC 7662: an id_token is no token of this server's endpoints: inactive. A refresh token
    // is active and says what it is, so a resource server that checks token_type refuses it.
    let (_, body) = status_json(
        app.post_form_basic("/introspect", "rs", &rs_secret, &[("token", &id_token)])
            .await,
    )
    .await;
    assert_eq!(body, json!({ "active": false }), "id_token at /introspect");
    let (_, body) = status_json(
        app.post_form_basic("/introspect", "rs", &rs_secret, &[("token", &refresh)])
            .await,
    )
    .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token", "{body}");
    // An id_token is not a refresh token either.
    let (status, body) = status_json(
        app.post_json("/api/token/refresh/", json!({ "refresh": id_token }))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = status_json(
        app.post_form_basic(
            "/token",
            "adm",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &id_token),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
    // The refresh token was not spent by any of it.
    let (status, body) = status_json(
        app.post_form_basic(
            "/token",
            "adm",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The `typ` header decides what a token is (RFC 8725 §3.11), on its own: an access token's
/// claims under the refresh token's or the id_token's `typ` (or none), and a refresh token's
/// under the access token's, are refused everywhere, though the server's key signed them.
async fn a_tokens_claims_under_another_kinds_typ_are_refused_though_signed_by_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let (access_claims, refresh_claims) = (peek(&access).1, peek(&refresh).1);
    // The refresh claims made to look like an access token's in every claim but the kind:
    // only `typ` is left to tell them apart.
    let mut refresh_as_access = refresh_claims.clone();
    refresh_as_access["aud"] = access_claims["aud"].clone();
    assert_accepted_as_access(
        &app,
        &ours.sign_raw(
            &ours.header("at+jwt", json!({})),
            &access_claims.to_string(),
        ),
        "access claims under at+jwt",
    )
    .await;
    let before = snapshot(&app).await;
    for typ in [
        json!("rt+jwt"),
        json!("JWT"),
        json!("jwt"),
        json!("at+jwt2"),
        json!(""),
        json!(null),
        json!(1),
    ] {
        let header = ours.header("at+jwt", json!({ "typ": typ }));
        let token = ours.sign_raw(&header, &access_claims.to_string());
        assert_refused_everywhere(
            &app,
            &rs_secret,
            &token,
            &format!("access claims, typ {typ}"),
        )
        .await;
    }
    for claims in [&refresh_claims, &refresh_as_access] {
        for typ in ["at+jwt", "JWT"] {
            let token = ours.sign_raw(&ours.header(typ, json!({})), &claims.to_string());
            assert_refused_everywhere(
                &app,
                &rs_secret,
                &token,
                &format!("refresh claims, typ {typ}"),
            )
            .await;
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
}

/// The claims as JSON text with `member` set to `value`.
fn with_claim(claims: &Value, member: &str, value: Value) -> String {
    let mut changed = claims.clone();
    changed[member] = value;
    changed.to_string()
}

/// RFC 8725 §3.8 and §3.9, given to Gatehouse itself: the server's own key signed each
/// token, so only the `iss` and `aud` checks can refuse them. Another issuer is refused for
/// access and refresh tokens alike; an access token may not carry the refresh tokens'
/// audience, and a refresh token only that one (or, for those minted before it existed, the
/// issuer itself).
async fn a_token_from_another_issuer_or_for_another_audience_is_refused_though_signed_by_the_server(
    backend: Backend,
) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (rs_secret, access, refresh) = setup(&app).await;
    let ours = server_signing_key(&app).await;
    let (access_claims, refresh_claims) = (peek(&access).1, peek(&refresh).1);
    let issuer = app.settings.issuer.clone();
    let (at, rt) = (
        ours.header("at+jwt", json!({})),
        ours.header("rt+jwt", json!({})),
    );
    // Controls: the same claims signed again are accepted.
    assert_accepted_as_access(
        &app,
        &ours.sign_raw(&at, &access_claims.to_string()),
        "access",
    )
    .await;
    let before = snapshot(&app).await;
    let other_issuers = [
        "https://evil.example".to_string(),
        format!("{issuer}/"),
        format!("{issuer}/token"),
        issuer.to_uppercase(),
        issuer.replacen("http://", "https://", 1),
        String::new(),
    ];
    for iss in &other_issuers {
        let token = ours.sign_raw(&at, &with_claim(&access_claims, "iss", json!(iss)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("access, iss {iss:?}")).await;
        let token = ours.sign_raw(&rt, &with_claim(&refresh_claims, "iss", json!(iss)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh, iss {iss:?}")).await;
    }
    // An access token for the token endpoint: the refresh tokens' audience.
    let token = ours.sign_raw(
        &at,
        &with_claim(&access_claims, "aud", refresh_claims["aud"].clone()),
    );
    assert_refused_everywhere(&app, &rs_secret, &token, "access, aud of refresh tokens").await;
    // A refresh token for anybody but the token endpoint.
    for aud in [
        "https://evil.example".to_string(),
        format!("{issuer}/token/"),
        format!("{issuer}/introspect"),
        String::new(),
    ] {
        let token = ours.sign_raw(&rt, &with_claim(&refresh_claims, "aud", json!(aud)));
        assert_refused_everywhere(&app, &rs_secret, &token, &format!("refresh, aud {aud:?}")).await;
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused token changed what is stored"
    );
    // Control: the genuine refresh claims, signed again, still refresh.
    let (status, body) = status_json(
        app.post_json(
            "/api/token/refresh/",
            json!({ "refresh": ours.sign_raw(&rt, &refresh_claims.to_string()) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
