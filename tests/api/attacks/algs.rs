//! Algorithm confusion (issue 26, RFC 8725 §3.1): with RS256, ES256 and EdDSA keys all
//! published, the key a token's `kid` names decides the algorithm. Each forgery here is made
//! with the server's *own* private keys (read back as a thief with the database and the
//! master key would), so only the algorithm rule stands between it and acceptance: a header
//! naming another algorithm than its key's, `none`, HS256 keyed with any form of a public
//! key, an EC point off the curve, a signature of the wrong length, an Ed25519 signature with
//! an unreduced S. Each is refused at verify, userinfo, introspect, the refresh endpoints and
//! the admin API, with nothing stored changed; each has its control, the same claims signed
//! the right way, which is accepted.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use serde_json::{json, Value};

use super::snapshot;
use super::tokens::{assert_accepted_as_access, assert_refused_everywhere, setup};
use crate::both_backends;
use crate::helpers::{b64url, spawn_app_with, Backend, TestApp};

both_backends!(
    a_header_naming_another_algorithm_than_its_keys_is_refused_though_the_servers_key_signed_it,
    none_and_hs256_keyed_with_any_form_of_a_published_key_are_refused,
    signatures_of_the_wrong_length_unreduced_or_made_for_an_off_curve_point_are_refused,
);

const ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// A server private key of one algorithm, able to sign any bytes.
struct ServerKey {
    kid: String,
    alg: &'static str,
    der: Vec<u8>,
}

impl ServerKey {
    /// The signature `alg`'s key makes over `message`: RS256 PKCS#1 v1.5, ES256 `r || s`,
    /// Ed25519.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self.alg {
            "RS256" => {
                let key = RsaKeyPair::from_der(&self.der).expect("RSA key");
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .expect("sign");
                signature
            }
            "ES256" => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.der)
                .expect("P-256 key")
                .sign(&rng, message)
                .expect("sign")
                .as_ref()
                .to_vec(),
            _ => Ed25519KeyPair::from_pkcs8(&self.der)
                .expect("Ed25519 key")
                .sign(message)
                .as_ref()
                .to_vec(),
        }
    }

    /// ES256 only: the DER (ASN.1) signature some libraries make instead of `r || s`.
    fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.der)
            .expect("P-256 key")
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }
}

/// The current key of each algorithm, unsealed from the database with the master key.
async fn server_keys(app: &TestApp) -> Vec<ServerKey> {
    let records = app.state.keys.list().await.expect("keys");
    let mut out = Vec::new();
    for alg in ALGS {
        let kid = records
            .iter()
            .find(|k| k.alg.as_str() == alg && k.state.as_str() == "current")
            .expect("a current key")
            .kid
            .clone();
        let lookup = kid.clone();
        let (sealed, master_id) = app
            .state
            .db
            .run(move |conn| gatehouse::db::repo::keys::sealed_private(conn, &lookup))
            .await
            .expect("read sealed key")
            .expect("stored");
        let der = app
            .state
            .keys
            .store
            .master()
            .open(&master_id, &sealed, kid.as_bytes())
            .expect("unseal")
            .to_vec();
        out.push(ServerKey { kid, alg, der });
    }
    out
}

/// `header.payload` as a JWS signing input, the header taken as given.
fn signing_input(header: &Value, payload_b64: &str) -> String {
    format!("{}.{payload_b64}", b64url(header.to_string().as_bytes()))
}

fn token(input: &str, signature: &[u8]) -> String {
    format!("{input}.{}", b64url(signature))
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |args| {
        args.signing_algs = Some("RS256,ES256,EdDSA".into());
    })
    .await
}

/// Alice's genuine access-token claims (base64url), signed by nobody yet.
fn claims_of(access: &str) -> String {
    access.split('.').nth(1).expect("claims").to_string()
}

async fn a_header_naming_another_algorithm_than_its_keys_is_refused_though_the_servers_key_signed_it(
    backend: Backend,
) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let payload = claims_of(&access);
    let keys = server_keys(&app).await;
    let before = snapshot(&app).await;
    for named in &keys {
        // Control: the kid's own algorithm, signed by its key.
        let header = json!({ "alg": named.alg, "typ": "at+jwt", "kid": named.kid });
        let input = signing_input(&header, &payload);
        let genuine = token(&input, &named.sign(input.as_bytes()));
        assert_accepted_as_access(&app, &genuine, &format!("{} control", named.alg)).await;
        for signer in keys.iter().filter(|k| k.alg != named.alg) {
            // The header names the signer's algorithm and the signature is the server's own
            // with that key, but the kid names a key of another algorithm.
            let header = json!({ "alg": signer.alg, "typ": "at+jwt", "kid": named.kid });
            let input = signing_input(&header, &payload);
            let forged = token(&input, &signer.sign(input.as_bytes()));
            let what = format!("{} header on a {} kid", signer.alg, named.alg);
            assert_refused_everywhere(&app, &rs_secret, &forged, &what).await;
            // The kid's algorithm in the header, and another key's signature under it.
            let header = json!({ "alg": named.alg, "typ": "at+jwt", "kid": named.kid });
            let input = signing_input(&header, &payload);
            let forged = token(&input, &signer.sign(input.as_bytes()));
            let what = format!("a {} signature under a {} kid", signer.alg, named.alg);
            assert_refused_everywhere(&app, &rs_secret, &forged, &what).await;
        }
    }
    assert_eq!(snapshot(&app).await, before, "nothing stored changed");
}

/// Every byte string a confused verifier might take as the HMAC secret of a published key.
fn public_key_forms(jwk: &Value) -> Vec<(String, Vec<u8>)> {
    let decode = |m: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[m].as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let mut forms = vec![
        ("the JWK".to_string(), jwk.to_string().into_bytes()),
        (
            "the kid".to_string(),
            jwk["kid"].as_str().unwrap().as_bytes().to_vec(),
        ),
    ];
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            use rsa::pkcs1::EncodeRsaPublicKey;
            use rsa::pkcs8::EncodePublicKey;
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&decode("n")),
                rsa::BigUint::from_bytes_be(&decode("e")),
            )
            .expect("RSA public key");
            let pem = key
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .expect("pem");
            forms.push(("the SPKI PEM".into(), pem.into_bytes()));
            let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("pem");
            forms.push(("the PKCS#1 PEM".into(), pkcs1.into_bytes()));
            forms.push(("the modulus".into(), decode("n")));
        }
        "EC" => {
            let point = [vec![4u8], decode("x"), decode("y")].concat();
            forms.push(("the uncompressed point".into(), point));
            forms.push(("x".into(), decode("x")));
        }
        _ => forms.push(("the Ed25519 public key".into(), decode("x"))),
    }
    forms
}

async fn none_and_hs256_keyed_with_any_form_of_a_published_key_are_refused(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let payload = claims_of(&access);
    let jwks = app.jwks().await;
    let before = snapshot(&app).await;
    for jwk in jwks["keys"].as_array().expect("keys") {
        let kid = jwk["kid"].as_str().unwrap();
        let alg = jwk["alg"].as_str().unwrap();
        for none in ["none", "None", "NONE", "nOnE"] {
            let header = json!({ "alg": none, "typ": "at+jwt", "kid": kid });
            let input = signing_input(&header, &payload);
            for signature in [format!("{input}."), format!("{input}.AAAA")] {
                let what = format!("alg {none} on a {alg} kid");
                assert_refused_everywhere(&app, &rs_secret, &signature, &what).await;
            }
        }
        for (form, secret) in public_key_forms(jwk) {
            for hs in ["HS256", "HS384", "HS512"] {
                let header = json!({ "alg": hs, "typ": "at+jwt", "kid": kid });
                let input = signing_input(&header, &payload);
                let algorithm = match hs {
                    "HS256" => jsonwebtoken::Algorithm::HS256,
                    "HS384" => jsonwebtoken::Algorithm::HS384,
                    _ => jsonwebtoken::Algorithm::HS512,
                };
                let signature = jsonwebtoken::crypto::sign(
                    input.as_bytes(),
                    &jsonwebtoken::EncodingKey::from_secret(&secret),
                    algorithm,
                )
                .expect("hmac");
                let forged = format!("{input}.{signature}");
                let what = format!("{hs} keyed with {form} of a {alg} key");
                assert_refused_everywhere(&app, &rs_secret, &forged, &what).await;
            }
        }
    }
    assert_eq!(snapshot(&app).await, before, "nothing stored changed");
}

/// An RFC 7638 thumbprint of a P-256 JWK.
fn ec_thumbprint(x: &str, y: &str) -> String {
    use sha2::Digest;
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64url(&sha2::Sha256::digest(canonical.as_bytes()))
}

async fn signatures_of_the_wrong_length_unreduced_or_made_for_an_off_curve_point_are_refused(
    backend: Backend,
) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (rs_secret, access, _) = setup(&app).await;
    let payload = claims_of(&access);
    let keys = server_keys(&app).await;
    let before = snapshot(&app).await;
    let key = |alg: &str| keys.iter().find(|k| k.alg == alg).expect("key");

    for k in &keys {
        let header = json!({ "alg": k.alg, "typ": "at+jwt", "kid": k.kid });
        let input = signing_input(&header, &payload);
        let signature = k.sign(input.as_bytes());
        assert_accepted_as_access(&app, &token(&input, &signature), k.alg).await;
        let n = signature.len();
        let wrong_lengths = [
            ("truncated by one byte", signature[..n - 1].to_vec()),
            ("one zero byte added", [&signature[..], &[0]].concat()),
            ("one zero byte in front", [&[0], &signature[..]].concat()),
            ("empty", vec![]),
            ("doubled", [&signature[..], &signature[..]].concat()),
        ];
        for (how, bytes) in wrong_lengths {
            let what = format!("a {} signature {how}", k.alg);
            assert_refused_everywhere(&app, &rs_secret, &token(&input, &bytes), &what).await;
        }
    }

    // ES256 in DER (ASN.1), as some libraries sign: JWS wants exactly r || s.
    let es = key("ES256");
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": es.kid });
    let input = signing_input(&header, &payload);
    let der = es.sign_der(input.as_bytes());
    let what = "an ES256 signature in DER";
    assert_refused_everywhere(&app, &rs_secret, &token(&input, &der), what).await;

    // Ed25519 with S + L (RFC 8032 §5.1.7 requires S < L): the same equation holds.
    let ed = key("EdDSA");
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": ed.kid });
    let input = signing_input(&header, &payload);
    let mut malleated = ed.sign(input.as_bytes());
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = malleated[32 + i] as u16 + L[i] as u16 + carry;
        malleated[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    let what = "an Ed25519 signature with S + L";
    assert_refused_everywhere(&app, &rs_secret, &token(&input, &malleated), what).await;

    // A point off the curve, carried in the header (`jwk`) under its own thumbprint kid and
    // under the server's ES256 kid: keys come only from the server's set.
    let attacker = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
    let point = attacker.public_key().as_ref().to_vec();
    let x = b64url(&point[1..33]);
    let mut y_bytes = point[33..].to_vec();
    y_bytes[31] ^= 1;
    let off_curve_y = b64url(&y_bytes);
    let on_curve_y = b64url(&point[33..]);
    for (what, y, kid) in [
        (
            "an off-curve jwk under its own kid",
            &off_curve_y,
            ec_thumbprint(&x, &off_curve_y),
        ),
        (
            "an off-curve jwk under the server's kid",
            &off_curve_y,
            es.kid.clone(),
        ),
        (
            "an attacker's jwk under the server's kid",
            &on_curve_y,
            es.kid.clone(),
        ),
    ] {
        let header = json!({
            "alg": "ES256", "typ": "at+jwt", "kid": kid,
            "jwk": { "kty": "EC", "crv": "P-256", "x": x, "y": y },
        });
        let input = signing_input(&header, &payload);
        let signature = attacker
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        let forged = token(&input, signature.as_ref());
        assert_refused_everywhere(&app, &rs_secret, &forged, what).await;
    }
    assert_eq!(snapshot(&app).await, before, "nothing stored changed");
}
