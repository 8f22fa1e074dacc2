//! A copy of the database without the master key: what a stolen backup shows. After every
//! kind of secret has been created through the real endpoints (passwords, a client secret,
//! access, refresh and id tokens, a grace-window successor, an SSO session, authorization
//! codes, the signing keys), the raw SQLite files (database, WAL and shared memory) and every
//! row of every PostgreSQL table are searched for each secret, raw and in the encodings a
//! careless store would use (hex, base64, base64url). Only digests, argon2 hashes and
//! AES-GCM ciphertext may be there; the test first checks that it can see stored values at
//! all (the usernames, the client secret's digest), so an empty read cannot pass it.

use base64::Engine;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use gatehouse::db::repo;
use gatehouse::keys::encryption::MasterKey;
use serde_json::Value;
use sha2::Digest;

use crate::both_backends;
use crate::helpers::{
    password_grant, spawn_app, spawn_app_with, status_json, submit_login, Backend, ServerProcess,
    TestApp,
};
use crate::sso::{authorize_url, browser, exchange, hidden, location, query_param, VERIFIER};

both_backends!(
    a_copy_of_the_database_reveals_no_key_and_no_usable_secret,
    a_servers_debug_log_holds_no_password_token_code_or_secret,
);

const ALICE_PASSWORD: &str = "alice-password-1";
const BOB_PASSWORD: &str = "bob's rather long password 42";

/// A secret and what it is, for the failure message.
struct Secret {
    what: String,
    bytes: Vec<u8>,
}

fn secret(what: impl Into<String>, bytes: impl AsRef<[u8]>) -> Secret {
    Secret {
        what: what.into(),
        bytes: bytes.as_ref().to_vec(),
    }
}

/// A JWT, its signature segment and its `jti`: none may be stored in clear.
fn token_secrets(what: &str, token: &str) -> Vec<Secret> {
    let mut out = vec![secret(what, token)];
    if let Some(sig) = token.rsplit('.').next() {
        out.push(secret(format!("{what} (signature)"), sig));
    }
    let (_, claims) = crate::helpers::peek(token);
    if let Some(jti) = claims["jti"].as_str() {
        out.push(secret(format!("{what} (jti)"), jti));
    }
    out
}

/// A database dump and its text view: ASCII needles (tokens, passwords, hex, base64) are
/// searched in the text, which keeps every ASCII byte in place, fast; binary ones bytewise.
struct Dump {
    bytes: Vec<u8>,
    text: String,
}

impl Dump {
    fn new(bytes: Vec<u8>) -> Dump {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Dump { bytes, text }
    }

    fn contains(&self, needle: &[u8]) -> bool {
        if needle.is_empty() {
            return false;
        }
        match std::str::from_utf8(needle) {
            Ok(s) if s.is_ascii() => self.text.contains(s),
            _ => self.bytes.windows(needle.len()).any(|w| w == needle),
        }
    }
}

/// 32 bytes of a private key's secret: inside an RSA key's private exponent (past the
/// public modulus), a P-256 key's scalar (ECPrivateKey: version 1, then a 32-byte OCTET
/// STRING), an Ed25519 key's seed (an OCTET STRING holding a 32-byte OCTET STRING; PKCS#8
/// v2 puts the public key after it, so not simply the last bytes).
fn private_part(der: &[u8]) -> &[u8] {
    if der.len() > 400 {
        return &der[300..332];
    }
    let after = |prefix: &[u8]| {
        der.windows(prefix.len())
            .position(|w| w == prefix)
            .map(|at| &der[at + prefix.len()..at + prefix.len() + 32])
    };
    after(&[0x02, 0x01, 0x01, 0x04, 0x20])
        .or_else(|| after(&[0x04, 0x22, 0x04, 0x20]))
        .expect("a P-256 or Ed25519 private key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every byte of the SQLite database: the main file and whatever the WAL holds.
fn sqlite_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(app.storage.dir.path()).expect("storage dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("gatehouse.db") {
            all.extend(std::fs::read(&path).expect("read database file"));
            files += 1;
        }
    }
    assert!(files >= 1, "no SQLite file found");
    all
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

/// Every row of every table of the PostgreSQL database as JSON text (bytea comes out as
/// `\x` hex), as a `pg_dump` or a `SELECT *` by someone holding a backup would read them.
fn postgres_rows(app: &TestApp) -> (Vec<u8>, Vec<String>) {
    let url = &app.storage.pg.as_ref().expect("a PostgreSQL database").url;
    let mut conn = diesel::PgConnection::establish(url).expect("connect");
    let tables: Vec<TableName> = diesel::sql_query(
        "SELECT table_name::text AS table_name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .load(&mut conn)
    .expect("tables");
    let mut all = Vec::new();
    let mut names = Vec::new();
    for t in tables {
        let rows: Vec<JsonRow> = diesel::sql_query(format!(
            "SELECT row_to_json(t)::text AS row FROM \"{}\" t",
            t.table_name
        ))
        .load(&mut conn)
        .expect("rows");
        for r in rows {
            all.extend(r.row.into_bytes());
            all.push(b'\n');
        }
        names.push(t.table_name);
    }
    (all, names)
}

async fn a_copy_of_the_database_reveals_no_key_and_no_usable_secret(backend: Backend) {
    // A grace window, so that a sealed successor pair is stored too.
    let Some(app) = spawn_app_with(backend, |a| {
        a.refresh_grace = Some("1h".into());
        // Keys of every algorithm, so their private halves are looked for too.
        a.signing_algs = Some("RS256,ES256,EdDSA".into());
    })
    .await
    else {
        return;
    };
    let mut secrets = vec![
        secret("alice's password", ALICE_PASSWORD),
        secret("bob's password", BOB_PASSWORD),
    ];

    // Users, a public browser client and a confidential client.
    crate::sso::setup(&app, false).await;
    app.add_user("bob", BOB_PASSWORD, false).await;
    let client_secret = app
        .add_client(&[
            "backend",
            "--grant",
            "password",
            "refresh_token",
            "client_credentials",
            "--scope",
            "openid",
            "offline_access",
        ])
        .await
        .expect("confidential");
    secrets.push(secret("client secret", &client_secret));
    // A client whose secret was rotated: neither secret may be there.
    let first = app
        .add_client(&["rotated", "--grant", "client_credentials"])
        .await
        .expect("confidential");
    let rotated = app
        .cli(&["client", "rotate-secret", "rotated", "--json"], "")
        .await;
    assert!(rotated.status.success(), "{}", rotated.stderr);
    let rotated: Value = serde_json::from_str(rotated.stdout.trim()).expect("json");
    secrets.push(secret("a rotated-out client secret", &first));
    secrets.push(secret(
        "a rotated client secret",
        rotated["client_secret"].as_str().expect("secret"),
    ));

    // Tokens of every grant. The password grant's refresh token is refreshed, so one record
    // is spent with a sealed successor.
    let resp = password_grant(
        &app.http,
        &app.address,
        "backend",
        &client_secret,
        "bob",
        BOB_PASSWORD,
        "openid offline_access",
    )
    .await;
    let (status, pair) = status_json(resp).await;
    assert_eq!(status, 200, "{pair}");
    for name in ["access_token", "refresh_token"] {
        let token = pair[name].as_str().expect(name);
        secrets.extend(token_secrets(&format!("password grant {name}"), token));
    }
    let resp = app
        .post_form_basic(
            "/token",
            "backend",
            &client_secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", pair["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    let (status, successor) = status_json(resp).await;
    assert_eq!(status, 200, "{successor}");
    for name in ["access_token", "refresh_token"] {
        let token = successor[name].as_str().expect(name);
        secrets.extend(token_secrets(&format!("refreshed {name}"), token));
    }
    let resp = app
        .post_form_basic(
            "/token",
            "backend",
            &client_secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let (status, cc) = status_json(resp).await;
    assert_eq!(status, 200, "{cc}");
    secrets.extend(token_secrets(
        "client_credentials access token",
        cc["access_token"].as_str().unwrap(),
    ));
    let (access, refresh) = app.tokens("bob", BOB_PASSWORD).await;
    secrets.extend(token_secrets("simplejwt access", &access));
    secrets.extend(token_secrets("simplejwt refresh", &refresh));
    // A password reset link, left open.
    let link = app
        .state
        .accounts
        .issue_reset_link("alice", None)
        .await
        .expect("reset link");
    secrets.push(secret("a reset link's token", &link.token));

    // A browser sign-in: the session cookie, a code left unredeemed, a code redeemed.
    let b = browser();
    let resp = b.get(authorize_url(&app, &[])).send().await.unwrap();
    let login = location(&resp);
    let resp = submit_login(&app, &b, &login, "alice", ALICE_PASSWORD).await;
    assert_eq!(resp.status(), 303, "sign-in");
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("gh_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    secrets.push(secret("SSO session id", &session));
    let resp = b.get(app.url(&location(&resp))).send().await.unwrap();
    let unredeemed = query_param(&location(&resp), "code").expect("code");
    secrets.push(secret("unredeemed authorization code", &unredeemed));
    let resp = b
        .get(authorize_url(&app, &[("state", "st-2")]))
        .send()
        .await
        .unwrap();
    let redeemed = query_param(&location(&resp), "code").expect("second code");
    secrets.push(secret("redeemed authorization code", &redeemed));
    let (status, code_tokens) =
        status_json(exchange(&app, &redeemed, Some(VERIFIER), "app").await).await;
    assert_eq!(status, 200, "{code_tokens}");
    for name in ["access_token", "refresh_token", "id_token"] {
        let token = code_tokens[name].as_str().expect(name);
        secrets.extend(token_secrets(&format!("code flow {name}"), token));
    }

    // Bob's authenticator app, through the single-page app's endpoints: the secret (raw and
    // as the base32 text shown), his recovery codes (as shown and as typed), and the
    // mfa_token of a sign-in left pending.
    let bob_access = app.tokens("bob", BOB_PASSWORD).await.0;
    let started: Value = app
        .http
        .post(app.url("/api/account/totp/"))
        .bearer_auth(&bob_access)
        .json(&serde_json::json!({ "password": BOB_PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = started["secret"].as_str().expect("secret").to_string();
    let raw = crate::helpers::totp::base32_decode(&shown);
    secrets.push(secret("TOTP secret (base32)", &shown));
    secrets.push(secret("TOTP secret", &raw));
    let now = app.clock.now();
    let confirmed: Value = app
        .http
        .post(app.url("/api/account/totp/confirm/"))
        .bearer_auth(&bob_access)
        .json(&serde_json::json!({ "code": crate::helpers::totp::code(&raw, now) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes = confirmed["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    for code in codes {
        let code = code.as_str().expect("a code");
        secrets.push(secret("recovery code", code));
        secrets.push(secret("recovery code as typed", code.replace('-', "")));
    }
    let (_, challenge) = status_json(app.simplejwt_login("bob", BOB_PASSWORD).await).await;
    secrets.push(secret(
        "mfa_token",
        challenge["mfa_token"].as_str().expect("mfa_token"),
    ));

    // The private signing keys, as the master key opens them: DER, PEM, and a run of bytes
    // from inside the private exponent (past the public modulus) in case only part leaked.
    let master = MasterKey::from_base64(
        std::fs::read_to_string(app.storage.master_key_file())
            .unwrap()
            .trim(),
    )
    .expect("master key");
    let sealed = app
        .state
        .keys
        .db
        .run(repo::keys::all_sealed)
        .await
        .expect("sealed keys");
    assert!(sealed.len() >= 2, "current and next keys");
    assert!(sealed.len() >= 9, "three keys of each algorithm");
    for (kid, blob, _) in &sealed {
        let der = master.open(blob, kid.as_bytes()).expect("opens");
        secrets.push(secret(format!("private key {kid} (DER)"), der.as_slice()));
        secrets.push(secret(
            format!("private key {kid} (its private scalar or inside d)"),
            private_part(&der),
        ));
    }
    secrets.push(secret("a PEM header", "PRIVATE KEY"));
    secrets.push(secret("the master key", master.to_base64().as_bytes()));

    let (bytes, what) = match backend {
        Backend::Sqlite => (sqlite_bytes(&app), "the SQLite files".to_string()),
        Backend::Postgres => {
            let (rows, tables) = postgres_rows(&app);
            for expected in [
                "users",
                "clients",
                "signing_keys",
                "refresh_tokens",
                "sessions",
                "auth_codes",
            ] {
                assert!(
                    tables.iter().any(|t| t == expected),
                    "{expected} in {tables:?}"
                );
            }
            (
                rows,
                format!("the PostgreSQL rows of {}", tables.join(", ")),
            )
        }
    };

    let dump = Dump::new(bytes);
    // The read sees what is stored: names, the argon2 hashes, the client secret's digest
    // (SHA-256 in hex, computed here rather than by the code under test).
    for visible in ["alice", "bob", "backend", "$argon2id$"] {
        assert!(
            dump.contains(visible.as_bytes()),
            "{visible} not found in {what}: the read saw nothing"
        );
    }
    assert!(
        dump.contains(hex(&sha2::Sha256::digest(client_secret.as_bytes())).as_bytes()),
        "the client secret's digest is not in {what}: the read saw nothing"
    );

    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for s in &secrets {
        let encodings = [
            ("raw", s.bytes.clone()),
            ("hex", hex(&s.bytes).into_bytes()),
            ("base64", b64.encode(&s.bytes).into_bytes()),
            ("base64url", b64url.encode(&s.bytes).into_bytes()),
        ];
        for (encoding, needle) in encodings {
            assert!(
                !dump.contains(&needle),
                "{} ({encoding}) is readable in {what}",
                s.what
            );
        }
    }
}

/// Logs are kept longer and shown to more people than the database: a server logging at
/// debug level, driven through every flow that carries a secret (passwords in bodies, a
/// password typed into the username field, client secrets in Basic and in the body, tokens
/// in bodies, bearer headers and the `id_token_hint` query parameter, codes, session
/// cookies), writes none of them.
async fn a_servers_debug_log_holds_no_password_token_code_or_secret(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    crate::sso::setup(&app, false).await;
    app.add_user("bob", BOB_PASSWORD, false).await;
    let client_secret = app
        .add_client(&[
            "backend",
            "--grant",
            "password",
            "refresh_token",
            "client_credentials",
            "--scope",
            "openid",
            "offline_access",
        ])
        .await
        .expect("confidential");
    let mut secrets = vec![
        secret("alice's password", ALICE_PASSWORD),
        secret("bob's password", BOB_PASSWORD),
        secret("client secret", &client_secret),
    ];
    let http = reqwest::Client::new();
    let mut server = ServerProcess::spawn_with_env(
        &app.storage,
        &app.settings.issuer,
        "debug",
        &[("GATEHOUSE_LOG", "debug")],
    );
    assert!(server.ready(&http, 60).await, "{}", server.log_text());
    let post_form = |path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>| {
        let mut req = http.post(server.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send()
    };

    // simplejwt: a password typed into the username field, a login, refresh, verify, blacklist.
    let typo = "bob's-password-in-the-username-field";
    secrets.push(secret("a password typed as a username", typo));
    let resp = post_form(
        "/api/token/",
        &[("username", typo), ("password", "x")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = post_form(
        "/api/token/",
        &[("username", "bob"), ("password", BOB_PASSWORD)],
        None,
    )
    .await
    .unwrap();
    let (status, pair) = status_json(resp).await;
    assert_eq!(status, 200, "{pair}");
    let (access, refresh) = (
        pair["access"].as_str().unwrap(),
        pair["refresh"].as_str().unwrap(),
    );
    secrets.extend(token_secrets("simplejwt access", access));
    secrets.extend(token_secrets("simplejwt refresh", refresh));
    let resp = post_form("/api/token/refresh/", &[("refresh", refresh)], None)
        .await
        .unwrap();
    let (status, next) = status_json(resp).await;
    assert_eq!(status, 200, "{next}");
    let next_refresh = next["refresh"].as_str().unwrap().to_string();
    secrets.extend(token_secrets("refreshed refresh", &next_refresh));
    // A replay (reuse detection, logged as a warning) and a verify.
    let resp = post_form("/api/token/refresh/", &[("refresh", refresh)], None)
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    post_form("/api/token/verify/", &[("token", access)], None)
        .await
        .unwrap();

    // OAuth: password grant with Basic, client_credentials with the secret in the body, a
    // wrong secret, userinfo, introspection and revocation.
    let resp = password_grant(
        &http,
        &server.address,
        "backend",
        &client_secret,
        "bob",
        BOB_PASSWORD,
        "openid offline_access",
    )
    .await;
    let (status, grant) = status_json(resp).await;
    assert_eq!(status, 200, "{grant}");
    let oauth_access = grant["access_token"].as_str().unwrap().to_string();
    let oauth_refresh = grant["refresh_token"].as_str().unwrap().to_string();
    secrets.extend(token_secrets("oauth access", &oauth_access));
    secrets.extend(token_secrets("oauth refresh", &oauth_refresh));
    let resp = post_form(
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "backend"),
            ("client_secret", &client_secret),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let wrong = "a-wrong-client-secret-that-must-not-be-logged";
    secrets.push(secret("a wrong client secret", wrong));
    let resp = post_form(
        "/token",
        &[("grant_type", "client_credentials")],
        Some(("backend", wrong)),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(server.url("/userinfo"))
        .bearer_auth(&oauth_access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    post_form(
        "/introspect",
        &[("token", &oauth_access)],
        Some(("backend", &client_secret)),
    )
    .await
    .unwrap();
    post_form(
        "/revoke",
        &[("token", &oauth_refresh)],
        Some(("backend", &client_secret)),
    )
    .await
    .unwrap();

    // A reset link opened and redeemed: the token travels in the query, then in the form.
    let link = app
        .state
        .accounts
        .issue_reset_link("bob", None)
        .await
        .expect("reset link");
    secrets.push(secret("a reset link's token", &link.token));
    let new_password = "bob's password after the reset";
    secrets.push(secret("a password set through a reset link", new_password));
    let reset = browser();
    let page = reset
        .get(link.url(&server.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = reset
        .post(server.url("/reset"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("token", link.token.as_str()),
            ("password", new_password),
            ("confirm", new_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the reset");

    // The browser: sign-in, a code, the id_token handed back in the logout query.
    let b = browser();
    let at_server = |url: String| url.replace(&app.address, &server.address);
    let resp = b
        .get(at_server(authorize_url(&app, &[])))
        .send()
        .await
        .unwrap();
    let login = location(&resp);
    let page = b
        .get(server.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = b
        .post(server.url("/login"))
        .form(&[
            ("csrf", hidden(&page, "csrf").as_str()),
            ("return_to", hidden(&page, "return_to").as_str()),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in");
    if let Some(session) = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("gh_session="))
        .and_then(|c| c.split(';').next())
    {
        secrets.push(secret("SSO session id", session));
    }
    let resp = b.get(server.url(&location(&resp))).send().await.unwrap();
    let code = query_param(&location(&resp), "code").expect("code");
    secrets.push(secret("authorization code", &code));
    let resp = post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &code),
            ("redirect_uri", crate::sso::REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await
    .unwrap();
    let (status, tokens) = status_json(resp).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    secrets.extend(token_secrets("id_token", &id_token));
    let logout = format!(
        "{}?{}",
        server.url("/logout"),
        serde_urlencoded::to_string([("id_token_hint", id_token.as_str())]).unwrap()
    );
    b.get(logout).send().await.unwrap();

    // Let the last lines reach the file, then read what the server wrote.
    let log = {
        let seen_logout = |log: &str| log.contains("/logout");
        assert!(
            crate::helpers::eventually(10, || {
                let text = server.log_text();
                async move { seen_logout(&text) }
            })
            .await,
            "the request log names the paths: {}",
            server.log_text()
        );
        Dump::new(server.log_text().into_bytes())
    };
    // The log names what happened (at debug, the most a server logs; today its debug
    // level adds no lines of its own to the info ones).
    for expected in [
        "/api/token/refresh/",
        "reuse detected",
        "sign-in failed",
        "/userinfo",
        "/logout",
    ] {
        assert!(
            dump_has(&log, expected),
            "{expected} not in the log: {}",
            &log.text[..log.text.len().min(3000)]
        );
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    for s in &secrets {
        for (encoding, needle) in [
            ("raw", s.bytes.clone()),
            ("base64", b64.encode(&s.bytes).into_bytes()),
        ] {
            assert!(
                !log.contains(&needle),
                "{} ({encoding}) is in the server's log",
                s.what
            );
        }
    }
}

fn dump_has(dump: &Dump, text: &str) -> bool {
    dump.contains(text.as_bytes())
}
