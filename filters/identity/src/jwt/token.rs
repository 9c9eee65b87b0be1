//! Strict decoding of compact JWS and signature verification against configured keys.

use super::{Algorithm, Claims, JwtError, VerifyingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::Deserialize;

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The JOSE header members Warden reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Algorithm.
    pub alg: Algorithm,
    /// Key id.
    pub kid: Option<String>,
    /// Media type (`typ`).
    pub typ: Option<String>,
}

/// A decoded, not yet verified token.
#[derive(Debug, Clone)]
pub struct Token<'a> {
    /// Header.
    pub header: Header,
    /// Payload claims.
    pub claims: Claims,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// A JSON object whose members must be unique (RFC 8725 §3.4 / RFC 7515 §5.2).
struct StrictObject(Claims);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Claims::new();
                while let Some((key, value)) = access.next_entry::<String, serde_json::Value>()? {
                    if map.contains_key(&key) {
                        return Err(A::Error::custom("duplicate member"));
                    }
                    map.insert(key, value);
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn segment(text: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JwtError::Malformed)
}

fn object(bytes: &[u8]) -> Result<Claims, JwtError> {
    serde_json::from_slice::<StrictObject>(bytes).map(|o| o.0).map_err(|_| JwtError::BadJson)
}

/// Decodes `token` (no verification yet): exactly three base64url segments without padding,
/// header and payload JSON objects without duplicate members, a known `alg` other than
/// `none`, and no header member that names or carries keys (`jku`, `x5u`, `jwk`, `x5c`) or
/// marks critical extensions (`crit`).
pub fn decode(token: &str, max_bytes: usize) -> Result<Token<'_>, JwtError> {
    if token.len() > max_bytes {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(JwtError::Malformed);
    }
    let header = object(&segment(h)?)?;
    for forbidden in ["jku", "x5u", "jwk", "x5c", "crit"] {
        if header.contains_key(forbidden) {
            return Err(JwtError::HeaderNotAccepted);
        }
    }
    let alg = header.get("alg").and_then(|v| v.as_str()).ok_or(JwtError::AlgorithmNotAllowed)?;
    let alg = Algorithm::parse(alg)?;
    let kid = match header.get("kid") {
        None => None,
        Some(serde_json::Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::BadJson),
    };
    let typ = match header.get("typ") {
        None => None,
        Some(serde_json::Value::String(typ)) => Some(typ.clone()),
        Some(_) => return Err(JwtError::BadJson),
    };
    let claims = object(&segment(p)?)?;
    let signature = segment(s)?;
    Ok(Token { header: Header { alg, kid, typ }, claims, signing_input: &token[..h.len() + 1 + p.len()], signature })
}

/// Verifies `token` against `keys`: its `alg` must be in `allowed`, and a key bound to that
/// same algorithm (and the token's `kid`, if it names one) must verify the signature. Keys
/// are never taken from the token. Returns the key that verified.
pub fn verify<'k>(
    token: &Token<'_>,
    keys: &'k [VerifyingKey],
    allowed: &[Algorithm],
) -> Result<&'k VerifyingKey, JwtError> {
    let alg = token.header.alg;
    if !allowed.contains(&alg) {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    let mut candidates =
        keys.iter().filter(|k| k.alg == alg && (token.header.kid.is_none() || k.kid == token.header.kid)).peekable();
    if candidates.peek().is_none() {
        return Err(JwtError::UnknownKey);
    }
    candidates
        .find(|key| key.verify(alg, token.signing_input.as_bytes(), &token.signature).is_ok())
        .ok_or(JwtError::BadSignature)
}
