//! Registered-claim checks (RFC 7519 §4.1) with an explicit clock.

use super::{Header, JwtError};
use serde_json::Value;

/// The payload of a token.
pub type Claims = serde_json::Map<String, Value>;

/// What a provider requires of a token's claims.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// Exact `iss`.
    pub issuer: String,
    /// Accepted audiences; the token's `aud` (string or array) must contain one. Empty: not checked.
    pub audiences: Vec<String>,
    /// Claims that must be present.
    pub required: Vec<String>,
    /// Allowed clock skew in seconds (default 60).
    pub skew_secs: u64,
    /// Expected `typ` header (compared case-insensitively, `application/` prefix optional).
    pub typ: Option<String>,
    /// Whether `exp` must be present (default true).
    pub require_exp: bool,
}

impl Default for ClaimRules {
    fn default() -> Self {
        ClaimRules {
            issuer: String::new(),
            audiences: Vec::new(),
            required: Vec::new(),
            skew_secs: 60,
            typ: None,
            require_exp: true,
        }
    }
}

fn numeric_date(claims: &Claims, name: &str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(JwtError::BadJson),
        Some(_) => Err(JwtError::BadJson),
    }
}

fn media_type(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    lower.strip_prefix("application/").map(str::to_string).unwrap_or(lower)
}

impl ClaimRules {
    /// Checks `typ`, `iss`, `aud`, `exp`, `nbf`, `iat` and required claims at time `now_secs`.
    pub fn check(&self, header: &Header, claims: &Claims, now_secs: u64) -> Result<(), JwtError> {
        if let Some(expected) = &self.typ {
            if header.typ.as_deref().map(media_type) != Some(media_type(expected)) {
                return Err(JwtError::WrongType);
            }
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(JwtError::WrongIssuer);
        }
        if !self.audiences.is_empty() {
            let accepted = |a: &Value| a.as_str().is_some_and(|a| self.audiences.iter().any(|x| x == a));
            let ok = match claims.get("aud") {
                Some(Value::String(_)) => claims.get("aud").is_some_and(accepted),
                Some(Value::Array(list)) => list.iter().any(accepted),
                _ => false,
            };
            if !ok {
                return Err(JwtError::WrongAudience);
            }
        }
        let now = now_secs as f64;
        let skew = self.skew_secs as f64;
        match numeric_date(claims, "exp")? {
            Some(exp) if now >= exp + skew => return Err(JwtError::Expired),
            None if self.require_exp => return Err(JwtError::MissingClaim),
            _ => {}
        }
        for name in ["nbf", "iat"] {
            if numeric_date(claims, name)?.is_some_and(|t| t > now + skew) {
                return Err(JwtError::NotYetValid);
            }
        }
        if self.required.iter().any(|name| !claims.contains_key(name)) {
            return Err(JwtError::MissingClaim);
        }
        Ok(())
    }
}
