//! Tokens, as a downstream service (or an attacker) sees them.

/// Decodes a JWT's header and claims without verifying (for looking, not trusting).
pub fn peek(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let mut next = || {
        let seg = parts.next().expect("segment");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    };
    let header = next();
    let claims = next();
    (header, claims)
}

/// Verifies an RS256 token with the jsonwebtoken crate against a fetched JWKS, as any
/// downstream service would.
pub fn verify_with_jwks(
    token: &str,
    jwks: &serde_json::Value,
    issuer: &str,
) -> Result<serde_json::Value, String> {
    let (header, _) = peek(token);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
    let jwk = set
        .find(kid)
        .ok_or_else(|| format!("kid {kid} not in JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    // The key decides the algorithm (RFC 8725 §3.1), never the token's header.
    let published = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .and_then(|k| k["alg"].as_str())
        .ok_or("the JWK names no alg")?;
    let alg = match published {
        "RS256" => jsonwebtoken::Algorithm::RS256,
        "ES256" => jsonwebtoken::Algorithm::ES256,
        "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
        other => return Err(format!("unexpected alg {other}")),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

/// base64url without padding, as JWT segments are encoded.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Assembles a JWT from a header, a claim set and a signature segment as given, signing
/// nothing: for forging hostile tokens.
pub fn assemble_jwt(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    signature: &str,
) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        signature
    )
}

/// The `kid`s a JWKS document lists.
pub fn kids(jwks: &serde_json::Value) -> std::collections::BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    peek(token).0["kid"]
        .as_str()
        .expect("kid in header")
        .to_string()
}
