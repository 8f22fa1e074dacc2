//! RFC 7517 key sets and RFC 7638 thumbprints. The JWKS body is built once per key-set
//! change, with its strong ETag, and served as bytes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::lifecycle::KeyRecord;
use super::Alg;

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn rsa_thumbprint(n_b64: &str, e_b64: &str) -> String {
    let canonical = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// RFC 7638 §3.2 for a P-256 key: `crv`, `kty`, `x`, `y`.
pub fn ec_thumbprint(x_b64: &str, y_b64: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x_b64}","y":"{y_b64}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// RFC 8037 §2 and RFC 7638 for an Ed25519 key: `crv`, `kty`, `x`.
pub fn okp_thumbprint(x_b64: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x_b64}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// One key as a JWK: `kty`, `crv` where it applies, `use`, `alg`, `kid` and the public half.
pub fn jwk(k: &KeyRecord) -> serde_json::Value {
    let mut jwk = serde_json::json!({
        "kty": k.alg.kty(), "use": "sig", "alg": k.alg.as_str(), "kid": k.kid,
    });
    match k.alg {
        Alg::Rs256 => {
            jwk["n"] = k.n.clone().into();
            jwk["e"] = k.e.clone().into();
        }
        Alg::Es256 | Alg::EdDsa => {
            jwk["crv"] = k.alg.crv().unwrap_or_default().into();
            jwk["x"] = k.x.clone().unwrap_or_default().into();
            if let Some(y) = &k.y {
                jwk["y"] = y.clone().into();
            }
        }
    }
    jwk
}

/// The published JWKS document and its strong ETag.
pub fn build_body(published: &[&KeyRecord]) -> (Vec<u8>, String) {
    let keys: Vec<serde_json::Value> = published.iter().map(|k| jwk(k)).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap_or_default();
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..18]));
    (body, etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn okp_thumbprint_matches_rfc8037_example() {
        // RFC 8037 §A.3
        assert_eq!(
            okp_thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
