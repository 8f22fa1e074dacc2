//! Header members that point at other keys (`jku`, `x5u`, `jwk`, `x5c`), hostile `kid`s and
//! duplicate members, and `crit`.

use super::*;

both_backends!(
    jku_x5u_jwk_and_x5c_are_never_fetched_and_only_the_servers_own_key_verifies,
    a_kid_that_is_a_path_sql_10kb_long_a_number_or_null_and_duplicate_header_members_are_refused,
    a_token_whose_crit_names_an_extension_is_refused_though_signed_by_the_server,
);

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
