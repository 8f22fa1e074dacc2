//! Each verifier, unchanged, against a real Gatehouse on loopback: it accepts an access
//! token of a user imported from Django (their `user_id` is the Django primary key), and
//! refuses a refresh token, an id_token, forged tokens (tampered claims, `alg: none`,
//! HS256 keyed with the public key, another key under Gatehouse's `kid` or an unknown
//! one), expired ones, other issuers and audiences; after an emergency rotation it refuses
//! the revoked key's token and accepts the new key's. Once per algorithm it is set up for
//! (issue 26): RS256, ES256 and EdDSA, with all three published, plus a header naming
//! another algorithm than the kid's key and HS256 keyed with the curve key.

use std::process::Stdio;
use std::sync::OnceLock;

use gatehouse::keys::rotation::RotationKind;
use gatehouse::keys::store::TokenType;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::django_import::{LONG, PBKDF2_SHA256};
use crate::helpers::{assemble_jwt, b64url, peek, spawn_app_with, Backend, TestApp};

both_backends!(
    drf_simplejwt_with_jwk_url_accepts_gatehouse_tokens_and_refuses_the_rest,
    drf_simplejwt_with_algorithm_eddsa_accepts_ed25519_tokens_and_refuses_the_rest,
    pyjwt_with_pyjwkclient_accepts_gatehouse_tokens_and_refuses_the_rest,
    node_jose_with_remote_jwks_accepts_gatehouse_tokens_and_refuses_the_rest,
    rust_resource_server_accepts_gatehouse_tokens_and_refuses_the_rest,
);

/// The Django primary key of the user whose tokens the verifiers see.
pub const USER_ID: i64 = 42;

/// A Gatehouse with a user imported from Django, and the tokens to show the verifiers.
pub struct World {
    pub app: TestApp,
    /// An access token of that user, which every verifier must accept.
    pub valid: String,
    /// Tokens every verifier must refuse, by name.
    pub refused: Vec<(String, String)>,
    /// What the access tokens are signed with (`ACCESS_TOKEN_ALG`).
    pub alg: &'static str,
}

impl World {
    /// Gatehouse with RS256, ES256 and EdDSA keys, signing access tokens with `alg`.
    pub async fn new(backend: Backend, alg: &'static str) -> Option<World> {
        let app = spawn_app_with(backend, |args| {
            args.signing_algs = Some("RS256,ES256,EdDSA".into());
            args.access_token_alg = Some(alg.into());
        })
        .await?;
        let record = json!({"model": "auth.user", "pk": USER_ID, "fields": {
            "username": "alice", "password": PBKDF2_SHA256, "is_active": true}});
        let user = gatehouse::accounts::import::parse_record(
            &record,
            gatehouse::accounts::import::AdminsFrom::Superuser,
        )
        .expect("a user");
        app.state
            .accounts
            .import_django_users(vec![user])
            .await
            .expect("import");
        let (valid, refresh) = app.tokens("alice", LONG).await;
        assert_eq!(peek(&valid).0["alg"], alg);
        let refused = refused_tokens(&app, &valid, refresh, alg).await;
        Some(World {
            app,
            valid,
            refused,
            alg,
        })
    }

    pub fn jwks_url(&self) -> String {
        self.app.url("/.well-known/jwks.json")
    }
}

/// Another RSA key, made once per test process.
fn foreign_key() -> &'static jsonwebtoken::EncodingKey {
    static KEY: OnceLock<jsonwebtoken::EncodingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key");
        let der = key.to_pkcs1_der().expect("DER");
        jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes())
    })
}

/// Another key of `alg` (RS256, ES256 or EdDSA) and its jsonwebtoken algorithm.
fn foreign_key_of(alg: &str) -> (jsonwebtoken::Algorithm, jsonwebtoken::EncodingKey) {
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    match alg {
        "RS256" => (jsonwebtoken::Algorithm::RS256, foreign_key().clone()),
        "ES256" => {
            let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("P-256 key");
            let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_ref());
            (jsonwebtoken::Algorithm::ES256, key)
        }
        _ => {
            let der = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
            let key = jsonwebtoken::EncodingKey::from_ed_der(der.as_ref());
            (jsonwebtoken::Algorithm::EdDSA, key)
        }
    }
}

/// A token signed by another RSA key, with Gatehouse's claims and the given `kid`.
pub fn signed_by_another_key(claims: &Value, kid: &str) -> String {
    signed_by_another_key_of("RS256", claims, kid)
}

/// A token signed by another key of `alg` (named in its header), with Gatehouse's claims
/// and the given `kid`.
pub fn signed_by_another_key_of(alg: &str, claims: &Value, kid: &str) -> String {
    let (algorithm, key) = foreign_key_of(alg);
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

async fn refused_tokens(
    app: &TestApp,
    valid: &str,
    refresh: String,
    alg: &str,
) -> Vec<(String, String)> {
    let (header, claims) = peek(valid);
    let kid = header["kid"].as_str().unwrap().to_string();
    let signature = valid.rsplit('.').next().unwrap();
    let signer = app
        .state
        .keys
        .store
        .snapshot()
        .signer(alg.parse().expect("an algorithm"))
        .cloned()
        .expect("signer");
    let gatehouse_signed = |typ: TokenType, changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        signer.sign(typ, &c).expect("sign")
    };
    let now = app.clock.now();

    // HS256 with the public key as the HMAC secret: the classic confusion (the PEM of an
    // RSA key; the raw public key of a curve key).
    let jwks = app.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let int = |field: &str| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[field].as_str().unwrap())
            .unwrap();
        rsa::BigUint::from_bytes_be(&bytes)
    };
    let secret: Vec<u8> = match alg {
        "RS256" => rsa::RsaPublicKey::new(int("n"), int("e"))
            .unwrap()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .into_bytes(),
        _ => {
            use base64::Engine;
            let raw = |m: &str| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(jwk[m].as_str().unwrap_or_default())
                    .unwrap()
            };
            match alg {
                "ES256" => [vec![4u8], raw("x"), raw("y")].concat(),
                _ => raw("x"),
            }
        }
    };
    let hs_header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let unsigned = format!(
        "{}.{}",
        b64url(hs_header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
        unsigned.as_bytes(),
    );
    let hs256 = format!("{unsigned}.{}", b64url(mac.as_ref()));

    let mut tampered = claims.clone();
    tampered["user_id"] = json!(1);
    // A header naming another algorithm than the kid's key, signed by a key of that
    // algorithm: the verifier must take the algorithm from the key (RFC 8725 §3.1).
    let mut confused: Vec<(String, String)> = ["RS256", "ES256", "EdDSA"]
        .into_iter()
        .filter(|other| *other != alg)
        .map(|other| {
            (
                format!("an {other} header and signature under Gatehouse's {alg} kid"),
                signed_by_another_key_of(other, &claims, &kid),
            )
        })
        .collect();
    let mut refused: Vec<(&str, String)> = vec![
        ("a refresh token", refresh),
        (
            "an id_token",
            gatehouse_signed(
                TokenType::Id,
                json!({"aud": "some-client", "nonce": "n", "token_type": null, "user_id": null}),
            ),
        ),
        (
            "tampered claims (user_id 1) under the original signature",
            assemble_jwt(&header, &tampered, signature),
        ),
        (
            "alg none",
            assemble_jwt(
                &json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
                &claims,
                "",
            ),
        ),
        ("HS256 keyed with Gatehouse's public key", hs256),
        (
            "another key of the same algorithm under Gatehouse's kid",
            signed_by_another_key_of(alg, &claims, &kid),
        ),
        (
            "another key of the same algorithm under an unknown kid",
            signed_by_another_key_of(alg, &claims, "not-a-gatehouse-kid"),
        ),
        (
            "expired an hour ago",
            gatehouse_signed(
                TokenType::Access,
                json!({"iat": now - 7200, "exp": now - 3600}),
            ),
        ),
        (
            "another issuer",
            gatehouse_signed(TokenType::Access, json!({"iss": "https://evil.example"})),
        ),
        (
            "another audience",
            gatehouse_signed(TokenType::Access, json!({"aud": "https://other.example"})),
        ),
    ];
    let mut out: Vec<(String, String)> = refused
        .drain(..)
        .map(|(name, token)| (name.to_string(), token))
        .collect();
    out.append(&mut confused);
    out
}

/// One verifier's answer about one token.
#[derive(Debug)]
pub struct Verdict {
    pub ok: bool,
    pub user_id: Value,
    pub error: String,
}

#[derive(Debug, Clone, Copy)]
enum Verifier {
    Drf,
    PyJwt,
    Jose,
    ResourceServer,
}

impl Verifier {
    /// The verifier's verdicts on `tokens`, in a fresh process (an empty JWKS cache).
    async fn verdicts(self, world: &World, tokens: &[String]) -> Option<Vec<Verdict>> {
        let (program, script) = match self {
            Verifier::Drf => (super::python()?, super::script("verify_drf.py")),
            Verifier::PyJwt => (super::python()?, super::script("verify_pyjwt.py")),
            Verifier::Jose => (super::node()?, super::script("verify_jose.mjs")),
            Verifier::ResourceServer => {
                let server = ResourceServer::start(&world.app.address, &[]).await?;
                let mut out = Vec::new();
                for token in tokens {
                    out.push(server.whoami(token).await);
                }
                return Some(out);
            }
        };
        let request = json!({
            "algorithm": world.alg,
            "jwks_url": world.jwks_url(),
            "issuer": world.app.settings.issuer,
            "audience": world.app.settings.default_audience,
            "tokens": tokens,
        });
        let mut child = tokio::process::Command::new(program)
            .arg(&script)
            .current_dir(script.parent().unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("verifier starts");
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(request.to_string().as_bytes())
            .await
            .unwrap();
        drop(stdin);
        let out = child.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{self:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdicts: Vec<Value> = serde_json::from_str(&stdout).expect("verdicts");
        Some(
            verdicts
                .into_iter()
                .map(|v| Verdict {
                    ok: v["ok"] == true,
                    user_id: v["user_id"].clone(),
                    error: v["error"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
        )
    }
}

/// `examples/resource_server` on a port of its own; killed when dropped.
pub struct ResourceServer {
    _child: tokio::process::Child,
    pub address: String,
    http: reqwest::Client,
}

impl ResourceServer {
    pub async fn start(issuer: &str, extra: &[&str]) -> Option<ResourceServer> {
        let program = super::resource_server()?;
        let mut child = tokio::process::Command::new(program)
            .args(["--issuer", issuer, "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("resource server starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the resource server says where it listens in time")
            .unwrap()
            .unwrap_or_default();
        let address = line
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_string();
        Some(ResourceServer {
            _child: child,
            address,
            http: reqwest::Client::new(),
        })
    }

    pub async fn whoami(&self, token: &str) -> Verdict {
        let resp = self
            .http
            .get(format!("{}/whoami", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("resource server answers");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        Verdict {
            ok: status == 200,
            user_id: body["user_id"].clone(),
            error: format!("{status}: {}", body["error_description"]),
        }
    }
}

/// The whole story for one verifier, once per algorithm it is configured for.
async fn accepts_gatehouse_tokens_and_refuses_the_rest(
    backend: Backend,
    verifier: Verifier,
    algs: &[&'static str],
) {
    for alg in algs {
        if !accepts_tokens_of(backend, verifier, alg).await {
            return;
        }
    }
}

/// One verifier configured for `alg`; false when it or the database is not there (SKIP).
async fn accepts_tokens_of(backend: Backend, verifier: Verifier, alg: &'static str) -> bool {
    let Some(world) = World::new(backend, alg).await else {
        return false;
    };
    let mut tokens = vec![world.valid.clone()];
    tokens.extend(world.refused.iter().map(|(_, t)| t.clone()));
    let Some(verdicts) = verifier.verdicts(&world, &tokens).await else {
        return false;
    };
    assert_eq!(verdicts.len(), tokens.len());
    assert!(
        verdicts[0].ok,
        "{verifier:?} refused a valid {alg} token: {}",
        verdicts[0].error
    );
    assert_eq!(verdicts[0].user_id, json!(USER_ID), "{verifier:?}");
    for ((name, _), verdict) in world.refused.iter().zip(&verdicts[1..]) {
        assert!(!verdict.ok, "{verifier:?} ({alg}) accepted {name}");
        println!("{verifier:?} ({alg}) refused {name}: {}", verdict.error);
    }

    // Emergency rotation: the revoked key leaves the JWKS; its token is refused by a
    // verifier that fetches the JWKS now, and the new key's token accepted.
    world
        .app
        .state
        .keys
        .rotate(
            Some(alg.parse().expect("an algorithm")),
            RotationKind::Emergency,
        )
        .await
        .expect("emergency rotation");
    let (fresh, _) = world.app.tokens("alice", LONG).await;
    assert_ne!(peek(&fresh).0["kid"], peek(&world.valid).0["kid"]);
    let verdicts = verifier
        .verdicts(&world, &[world.valid.clone(), fresh])
        .await
        .expect("the verifier ran before");
    assert!(
        !verdicts[0].ok,
        "{verifier:?} accepted a token of a revoked key"
    );
    println!(
        "{verifier:?} refused a token of a revoked key: {}",
        verdicts[0].error
    );
    assert!(
        verdicts[1].ok,
        "{verifier:?} refused the new key's token: {}",
        verdicts[1].error
    );
    assert_eq!(verdicts[1].user_id, json!(USER_ID), "{verifier:?}");
    true
}

const ALL_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

async fn drf_simplejwt_with_jwk_url_accepts_gatehouse_tokens_and_refuses_the_rest(
    backend: Backend,
) {
    // simplejwt's ALGORITHM = "ES256" beside its default RS256 (the issue asks for these
    // two; EdDSA has a test of its own below).
    accepts_gatehouse_tokens_and_refuses_the_rest(backend, Verifier::Drf, &["RS256", "ES256"]).await
}

async fn drf_simplejwt_with_algorithm_eddsa_accepts_ed25519_tokens_and_refuses_the_rest(
    backend: Backend,
) {
    // simplejwt takes ALGORITHM = "EdDSA" since its allowed list includes every algorithm
    // PyJWT implements with `cryptography` (simplejwt 5.x, PyJWT 2.x): the same story as
    // RS256 and ES256, forged tokens (an RS256 or ES256 header on the Ed25519 kid, HS256
    // keyed with the curve key, another Ed25519 key) refused, and the emergency rotation.
    accepts_gatehouse_tokens_and_refuses_the_rest(backend, Verifier::Drf, &["EdDSA"]).await
}

async fn pyjwt_with_pyjwkclient_accepts_gatehouse_tokens_and_refuses_the_rest(backend: Backend) {
    accepts_gatehouse_tokens_and_refuses_the_rest(backend, Verifier::PyJwt, &ALL_ALGS).await
}

async fn node_jose_with_remote_jwks_accepts_gatehouse_tokens_and_refuses_the_rest(
    backend: Backend,
) {
    accepts_gatehouse_tokens_and_refuses_the_rest(backend, Verifier::Jose, &ALL_ALGS).await
}

async fn rust_resource_server_accepts_gatehouse_tokens_and_refuses_the_rest(backend: Backend) {
    accepts_gatehouse_tokens_and_refuses_the_rest(backend, Verifier::ResourceServer, &ALL_ALGS)
        .await
}
