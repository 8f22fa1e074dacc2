//! The JWS algorithms Gatehouse signs with (RFC 7518 §3, RFC 8037): RS256, ES256 (P-256)
//! and EdDSA (Ed25519). Each has a key line of its own; the key a token's `kid` names
//! decides which algorithm checks it (RFC 8725 §3.1), never the token's header alone.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256; what simplejwt verifiers expect by default.
    Rs256,
    /// ECDSA on P-256 with SHA-256, the signature as fixed-size `r || s` (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    /// The JOSE `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The JWK `kty`.
    pub fn kty(self) -> &'static str {
        match self {
            Alg::Rs256 => "RSA",
            Alg::Es256 => "EC",
            Alg::EdDsa => "OKP",
        }
    }

    /// The JWK `crv`, for curve keys.
    pub fn crv(self) -> Option<&'static str> {
        match self {
            Alg::Rs256 => None,
            Alg::Es256 => Some("P-256"),
            Alg::EdDsa => Some("Ed25519"),
        }
    }

    /// The position of this algorithm in [`Alg::ALL`]: an index into per-algorithm arrays.
    pub fn index(self) -> usize {
        match self {
            Alg::Rs256 => 0,
            Alg::Es256 => 1,
            Alg::EdDsa => 2,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signing algorithm Gatehouse offers (RS256, ES256, EdDSA)")]
pub struct UnknownAlg(pub String);

impl FromStr for Alg {
    type Err = UnknownAlg;

    /// Exact JOSE spelling: `alg` values are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Alg, UnknownAlg> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAlg(s.to_string()))
    }
}

impl serde::Serialize for Alg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Alg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Alg, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of algorithms that is `Copy` (the settings a use case keeps by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlgSet([bool; 3]);

impl AlgSet {
    pub fn of(algs: &[Alg]) -> AlgSet {
        let mut set = AlgSet::default();
        for alg in algs {
            set.0[alg.index()] = true;
        }
        set
    }

    pub fn contains(self, alg: Alg) -> bool {
        self.0[alg.index()]
    }

    /// In [`Alg::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Alg> {
        Alg::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

/// `SIGNING_ALGS`: a comma-separated list, each at most once, not empty; kept in
/// [`Alg::ALL`] order.
pub fn parse_list(s: &str) -> Result<Vec<Alg>, String> {
    let mut algs = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let alg: Alg = part.parse().map_err(|e: UnknownAlg| e.to_string())?;
        if algs.contains(&alg) {
            return Err(format!("{alg} is listed twice"));
        }
        algs.push(alg);
    }
    if algs.is_empty() {
        return Err("name at least one algorithm".into());
    }
    algs.sort();
    Ok(algs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact_and_lists_are_checked() {
        assert_eq!("EdDSA".parse::<Alg>(), Ok(Alg::EdDsa));
        assert!("es256".parse::<Alg>().is_err(), "alg is case-sensitive");
        assert!("none".parse::<Alg>().is_err());
        assert!("HS256".parse::<Alg>().is_err());
        assert_eq!(parse_list("EdDSA, RS256"), Ok(vec![Alg::Rs256, Alg::EdDsa]));
        assert!(parse_list("RS256,RS256").is_err());
        assert!(parse_list(" , ").is_err());
        assert!(parse_list("RS256,PS256").is_err());
    }
}
