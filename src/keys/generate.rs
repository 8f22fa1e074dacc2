//! Making new signing keys of each algorithm: the private half as DER for sealing (PKCS#1
//! for RSA, PKCS#8 for the curves) and the public half as JWK members, with the RFC 7638
//! thumbprint as kid, which keeps kids unique across algorithms (the thumbprint covers
//! `kty` and `crv`).

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::jwks::{ec_thumbprint, okp_thumbprint, rsa_thumbprint};
use super::Alg;

/// A freshly generated key, not yet stored.
#[derive(Clone)]
pub struct GeneratedKey {
    pub kid: String,
    pub alg: Alg,
    /// RSA modulus bits; 256 for the curve keys.
    pub bits: usize,
    /// RSA: modulus and exponent, base64url (empty for the curves).
    pub n: String,
    pub e: String,
    /// Curves: the JWK `x` (and `y` for P-256), base64url.
    pub x: Option<String>,
    pub y: Option<String>,
    private_der: Zeroizing<Vec<u8>>,
}

impl GeneratedKey {
    /// The private half as it is sealed: PKCS#1 (RSA) or PKCS#8 (ES256, EdDSA).
    pub(crate) fn private_der(&self) -> &[u8] {
        &self.private_der
    }
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedKey {{ kid: {}, alg: {}, bits: {}, private: <hidden> }}",
            self.kid, self.alg, self.bits
        )
    }
}

/// Where a server's new signing keys come from, given the algorithm and, for RSA, the size
/// in bits; called on a blocking thread. A server generates them ([`generator`]); a test
/// suite passes one that hands out RSA keys it generated once, because RSA generation is
/// most of the CPU its rotations cost, as the clock is passed in so that time is the test's.
pub type KeyGenerator = Arc<dyn Fn(Alg, usize) -> anyhow::Result<GeneratedKey> + Send + Sync>;

/// Fresh keys from the operating system's randomness: [`generate`].
pub fn generator() -> KeyGenerator {
    Arc::new(generate)
}

/// A new key of `alg` (`bits` is the RSA size). RSA is CPU-heavy (tens to hundreds of
/// milliseconds): call from a blocking thread. The curves take microseconds.
pub fn generate(alg: Alg, bits: usize) -> anyhow::Result<GeneratedKey> {
    match alg {
        Alg::Rs256 => generate_rsa(bits),
        Alg::Es256 => generate_p256(),
        Alg::EdDsa => generate_ed25519(),
    }
}

fn generate_rsa(bits: usize) -> anyhow::Result<GeneratedKey> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let der = key.to_pkcs1_der()?;
    Ok(GeneratedKey {
        kid: rsa_thumbprint(&n, &e),
        alg: Alg::Rs256,
        bits,
        n,
        e,
        x: None,
        y: None,
        private_der: Zeroizing::new(der.as_bytes().to_vec()),
    })
}

fn generate_p256() -> anyhow::Result<GeneratedKey> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("P-256 key generation failed"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|e| anyhow::anyhow!("P-256 key generation failed: {e}"))?;
    // The uncompressed point: 0x04 || x || y, 32 bytes each.
    let point = pair.public_key().as_ref();
    anyhow::ensure!(point.len() == 65 && point[0] == 4, "unexpected P-256 point");
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..]);
    Ok(GeneratedKey {
        kid: ec_thumbprint(&x, &y),
        alg: Alg::Es256,
        bits: 256,
        n: String::new(),
        e: String::new(),
        x: Some(x),
        y: Some(y),
        private_der: Zeroizing::new(pkcs8.as_ref().to_vec()),
    })
}

fn generate_ed25519() -> anyhow::Result<GeneratedKey> {
    let pair =
        Ed25519KeyPair::generate().map_err(|_| anyhow::anyhow!("Ed25519 key generation failed"))?;
    let pkcs8 = pair
        .to_pkcs8()
        .map_err(|_| anyhow::anyhow!("Ed25519 key cannot be encoded"))?;
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    Ok(GeneratedKey {
        kid: okp_thumbprint(&x),
        alg: Alg::EdDsa,
        bits: 256,
        n: String::new(),
        e: String::new(),
        x: Some(x),
        y: None,
        private_der: Zeroizing::new(pkcs8.as_ref().to_vec()),
    })
}
