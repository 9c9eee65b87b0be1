//! The demo's signing key: an ES256 (P-256) key made at start, never written to disk. It signs
//! the printed tokens of the demo identities and the demo identity provider's ID tokens; its
//! public half goes inline into Envoy's identity stage and the approval service's trust.

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

/// An ES256 key with its key id.
pub struct DemoKey {
    key: SigningKey,
    /// `kid` of the key (random per start, so a token from an earlier demo fails with
    /// `unknown signing key`).
    pub kid: String,
}

/// `len` random bytes from the operating system.
pub fn random_bytes(len: usize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    Ok(bytes)
}

/// A random URL-safe secret of `len` bytes.
pub fn random_secret(len: usize) -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(len)?))
}

impl DemoKey {
    /// A fresh key.
    pub fn generate() -> anyhow::Result<Self> {
        // A random scalar is valid with overwhelming probability; retry the rare one that is not.
        for _ in 0..8 {
            if let Ok(key) = SigningKey::from_slice(&random_bytes(32)?) {
                let kid = format!("demo-{}", &warden_kit::hex::encode(&random_bytes(4)?));
                return Ok(Self { key, kid });
            }
        }
        anyhow::bail!("could not make a P-256 key")
    }

    /// The public key as a JWK (for inline `jwks`).
    pub fn jwk(&self) -> anyhow::Result<Value> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let (x, y) = point.x().zip(point.y()).context("the public key has no coordinates")?;
        Ok(json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                  "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}))
    }

    /// A compact JWS (JWT) of `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn a_token_verifies_with_the_published_jwk() {
        let key = DemoKey::generate().unwrap();
        let token = key.sign(&json!({"sub": "alice"}));
        let parts: Vec<&str> = token.split('.').collect();
        let jwk = key.jwk().unwrap();
        let mut sec1 = vec![4u8];
        for c in ["x", "y"] {
            sec1.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap());
        }
        let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        assert!(public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).is_ok());
        assert!(public.verify(b"something else", &signature).is_err());
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["kid"], json!(key.kid));
    }
}
