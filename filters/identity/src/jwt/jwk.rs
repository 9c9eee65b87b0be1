//! JSON Web Keys (RFC 7517) into [`VerifyingKey`]s.

use super::{Algorithm, JwtError, VerifyingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// One JWK as published in a JWKS document. Unknown members are ignored (RFC 7517 §4).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP`, `oct`.
    pub kty: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Algorithm the key is for.
    #[serde(default)]
    pub alg: Option<String>,
    /// Intended use; when present it must be `sig`.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// Curve (`P-256`, `P-384`, `Ed25519`).
    #[serde(default)]
    pub crv: Option<String>,
    /// RSA modulus.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default)]
    pub e: Option<String>,
    /// EC/OKP x coordinate.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default)]
    pub y: Option<String>,
    /// Symmetric key.
    #[serde(default)]
    pub k: Option<String>,
    /// Private part; a published key must not have one.
    #[serde(default)]
    pub d: Option<String>,
}

fn b64(field: &Option<String>, what: &'static str) -> Result<Vec<u8>, JwtError> {
    let text = field.as_deref().ok_or(JwtError::BadKey(what))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JwtError::BadKey(what))
}

impl Jwk {
    /// The verifying key this JWK describes. The algorithm is the JWK's `alg`; without one,
    /// EC and OKP keys take the algorithm of their curve and RSA keys `default_rsa`.
    /// Symmetric (`oct`) keys are accepted only when `allow_symmetric` (inline configuration).
    pub fn to_key(&self, default_rsa: Algorithm, allow_symmetric: bool) -> Result<VerifyingKey, JwtError> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JwtError::BadKey("key is not for signatures"));
        }
        if self.d.is_some() && self.kty != "oct" {
            return Err(JwtError::BadKey("a private key was published"));
        }
        let alg = self.alg.as_deref().map(Algorithm::parse).transpose().map_err(|_| JwtError::BadKey("unknown alg"))?;
        let kid = self.kid.clone();
        match self.kty.as_str() {
            "RSA" => {
                VerifyingKey::rsa(kid, alg.unwrap_or(default_rsa), &b64(&self.n, "RSA n")?, &b64(&self.e, "RSA e")?)
            }
            "EC" => {
                let curve_alg = match self.crv.as_deref() {
                    Some("P-256") => Algorithm::ES256,
                    Some("P-384") => Algorithm::ES384,
                    _ => return Err(JwtError::BadKey("unsupported EC curve")),
                };
                if alg.is_some_and(|a| a != curve_alg) {
                    return Err(JwtError::BadKey("alg does not match the curve"));
                }
                VerifyingKey::ec(kid, curve_alg, &b64(&self.x, "EC x")?, &b64(&self.y, "EC y")?)
            }
            "OKP" => {
                if self.crv.as_deref() != Some("Ed25519") || alg.is_some_and(|a| a != Algorithm::EdDSA) {
                    return Err(JwtError::BadKey("OKP keys must be Ed25519 for EdDSA"));
                }
                VerifyingKey::ed25519(kid, &b64(&self.x, "OKP x")?)
            }
            "oct" if allow_symmetric => {
                let alg = alg.ok_or(JwtError::BadKey("symmetric keys need an explicit alg"))?;
                VerifyingKey::hmac(kid, alg, &b64(&self.k, "oct k")?)
            }
            "oct" => Err(JwtError::BadKey("symmetric keys are accepted only in inline configuration")),
            _ => Err(JwtError::BadKey("unsupported key type")),
        }
    }
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS document. Keys that are unusable (unknown type, bad encoding) are skipped and
/// counted; a document that is not a JWKS, or has no usable key, is an error.
pub fn parse_jwks(json: &[u8], default_rsa: Algorithm) -> Result<(Vec<VerifyingKey>, usize), JwtError> {
    let set: JwkSet = serde_json::from_slice(json).map_err(|_| JwtError::BadKey("not a JWKS document"))?;
    let mut keys = Vec::new();
    let mut skipped = 0;
    for value in set.keys {
        match serde_json::from_value::<Jwk>(value)
            .map_err(|_| JwtError::BadKey("bad JWK"))
            .and_then(|j| j.to_key(default_rsa, false))
        {
            Ok(key) => keys.push(key),
            Err(_) => skipped += 1,
        }
    }
    if keys.is_empty() {
        return Err(JwtError::BadKey("no usable key in the JWKS"));
    }
    Ok((keys, skipped))
}
