//! Hostile payloads signed with the server's own key.

use super::*;

both_backends!(hostile_payloads_signed_with_the_servers_key_are_refused_and_never_crash_the_server,);

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
