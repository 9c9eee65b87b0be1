//! Verification keys, each bound to exactly one algorithm (RFC 8725 §3.1).

use super::{Algorithm, JwtError};
use hmac::{Hmac, Mac};
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone)]
enum Material {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Hmac(Vec<u8>),
}

/// A public key (or HMAC secret) that verifies signatures of one algorithm only.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// Key id (`kid`), if the key has one.
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    material: Material,
}

impl VerifyingKey {
    /// An RSA key from big-endian modulus and exponent, for RS256/384/512 or PS256/384/512.
    pub fn rsa(kid: Option<String>, alg: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, JwtError> {
        use Algorithm::*;
        if !matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512) {
            return Err(JwtError::BadKey("an RSA key needs an RS* or PS* algorithm"));
        }
        let key = RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e))
            .map_err(|_| JwtError::BadKey("invalid RSA public key"))?;
        if rsa::traits::PublicKeyParts::n(&key).bits() < MIN_RSA_BITS {
            return Err(JwtError::BadKey("RSA keys must have at least 2048 bits"));
        }
        Ok(VerifyingKey { kid, alg, material: Material::Rsa(key) })
    }

    /// An EC key from affine coordinates: P-256 for ES256, P-384 for ES384.
    pub fn ec(kid: Option<String>, alg: Algorithm, x: &[u8], y: &[u8]) -> Result<Self, JwtError> {
        let mut sec1 = vec![0x04];
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        let material = match (alg, x.len(), y.len()) {
            (Algorithm::ES256, 32, 32) => Material::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map_err(|_| JwtError::BadKey("invalid P-256 point"))?,
            ),
            (Algorithm::ES384, 48, 48) => Material::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map_err(|_| JwtError::BadKey("invalid P-384 point"))?,
            ),
            _ => return Err(JwtError::BadKey("EC keys are P-256 (ES256) or P-384 (ES384) with full-size coordinates")),
        };
        Ok(VerifyingKey { kid, alg, material })
    }

    /// An Ed25519 key (32 bytes) for EdDSA.
    pub fn ed25519(kid: Option<String>, x: &[u8]) -> Result<Self, JwtError> {
        let bytes: [u8; 32] = x.try_into().map_err(|_| JwtError::BadKey("Ed25519 keys are 32 bytes"))?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| JwtError::BadKey("invalid Ed25519 key"))?;
        Ok(VerifyingKey { kid, alg: Algorithm::EdDSA, material: Material::Ed25519(key) })
    }

    /// An HMAC secret for HS256/384/512; at least as long as the hash output (RFC 7518 §3.2).
    pub fn hmac(kid: Option<String>, alg: Algorithm, secret: &[u8]) -> Result<Self, JwtError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Err(JwtError::BadKey("an HMAC secret needs an HS* algorithm")),
        };
        if secret.len() < min {
            return Err(JwtError::BadKey("HMAC secret shorter than the hash output"));
        }
        Ok(VerifyingKey { kid, alg, material: Material::Hmac(secret.to_vec()) })
    }

    /// Checks `signature` over `message` with algorithm `alg`, which must be this key's.
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        if alg != self.alg {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        let ok = match &self.material {
            Material::Rsa(key) => verify_rsa(key, alg, message, signature),
            Material::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| p256::ecdsa::signature::Verifier::verify(key, message, &sig).is_ok()),
            Material::P384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| p384::ecdsa::signature::Verifier::verify(key, message, &sig).is_ok()),
            Material::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            Material::Hmac(secret) => verify_hmac(secret, alg, message, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

fn verify_rsa(key: &RsaPublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    match alg {
        Algorithm::RS256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message), signature).is_ok(),
        Algorithm::RS384 => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(message), signature).is_ok(),
        Algorithm::RS512 => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(message), signature).is_ok(),
        Algorithm::PS256 => key.verify(Pss::new_with_salt::<Sha256>(32), &Sha256::digest(message), signature).is_ok(),
        Algorithm::PS384 => key.verify(Pss::new_with_salt::<Sha384>(48), &Sha384::digest(message), signature).is_ok(),
        Algorithm::PS512 => key.verify(Pss::new_with_salt::<Sha512>(64), &Sha512::digest(message), signature).is_ok(),
        _ => false,
    }
}

fn verify_hmac(secret: &[u8], alg: Algorithm, message: &[u8], tag: &[u8]) -> bool {
    // `verify_slice` compares in constant time and requires the full tag length.
    match alg {
        Algorithm::HS256 => Hmac::<Sha256>::new_from_slice(secret).is_ok_and(|mut m| {
            m.update(message);
            m.verify_slice(tag).is_ok()
        }),
        Algorithm::HS384 => Hmac::<Sha384>::new_from_slice(secret).is_ok_and(|mut m| {
            m.update(message);
            m.verify_slice(tag).is_ok()
        }),
        Algorithm::HS512 => Hmac::<Sha512>::new_from_slice(secret).is_ok_and(|mut m| {
            m.update(message);
            m.verify_slice(tag).is_ok()
        }),
        _ => false,
    }
}
