//! Signing keys in the C2SP `signed-note` encoding: a verifier key is
//! `<name>+<key id, 8 hex>+<base64(algorithm byte || public key)>`, and the key id is the first
//! four bytes of SHA-256(name || "\n" || algorithm byte || public key).
//!
//! Two algorithms are used: Ed25519 note signatures (0x01) for the log's checkpoints, and
//! Ed25519 `cosignature/v1` (0x04) for witnesses. Another algorithm is another
//! [`signed_note::Signer`] / [`signed_note::Verifier`]; nothing else changes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Algorithm byte of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
/// Algorithm byte of Ed25519 `cosignature/v1` (C2SP tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The name is empty or has spaces or `+`.
    #[error("a key name must be non-empty, without spaces or '+'")]
    Name,
    /// Not a `<name>+<id>+<base64>` verifier key of a known algorithm, or its id is wrong.
    #[error("not a verifier key for {0}")]
    Format(&'static str),
}

/// Checks a key name (C2SP signed-note).
pub fn check_name(name: &str) -> Result<(), KeyError> {
    if signed_note::is_key_name_valid(name) {
        Ok(())
    } else {
        Err(KeyError::Name)
    }
}

/// The key id of `name`'s key `public` under algorithm `alg`.
pub fn key_id(name: &str, alg: u8, public: &VerifyingKey) -> u32 {
    let mut encoded = vec![alg];
    encoded.extend_from_slice(public.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// The verifier key text of `name`'s key `public` under algorithm `alg`.
pub fn vkey(name: &str, alg: u8, public: &VerifyingKey) -> String {
    let mut encoded = vec![alg];
    encoded.extend_from_slice(public.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, alg, public), STANDARD.encode(encoded))
}

/// Parses a verifier key of algorithm `alg`: its name, id and public key.
pub fn parse_vkey(text: &str, alg: u8) -> Result<(String, u32, VerifyingKey), KeyError> {
    let what = if alg == ALG_COSIGNATURE_V1 { "cosignature/v1 (0x04)" } else { "Ed25519 (0x01)" };
    let bad = || KeyError::Format(what);
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    check_name(name)?;
    let id = if id.len() == 8 { u32::from_str_radix(id, 16).map_err(|_| bad())? } else { return Err(bad()) };
    let key = STANDARD.decode(key).map_err(|_| bad())?;
    let (&found, public) = key.split_first().ok_or_else(bad)?;
    let public: [u8; 32] = public.try_into().map_err(|_| bad())?;
    let public = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
    if found != alg || key_id(name, alg, &public) != id {
        return Err(bad());
    }
    Ok((name.to_string(), id, public))
}

/// An Ed25519 key with its name, for note signatures (log) or cosignatures (witness).
#[derive(Clone)]
pub struct NamedKey {
    /// Key name (for the log: its origin).
    pub name: String,
    /// The secret key (never printed: `Debug` shows the name only).
    pub signing: SigningKey,
}

impl std::fmt::Debug for NamedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedKey").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NamedKey {
    /// A key called `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        Ok(NamedKey { name: name.to_string(), signing: SigningKey::from_bytes(&seed) })
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }
}
