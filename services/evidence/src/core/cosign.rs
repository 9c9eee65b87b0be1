//! Witness cosignatures (C2SP `tlog-cosignature`, `cosignature/v1`): a witness signs
//! `cosignature/v1\ntime <t>\n<checkpoint text>` with Ed25519; the note signature is the
//! 8-byte big-endian time followed by the 64-byte signature; the key id uses algorithm 0x04.

use super::keys::{self, KeyError, NamedKey, ALG_COSIGNATURE_V1};
use ed25519_dalek::{Signer as _, Verifier as _, VerifyingKey};

/// The message a witness signs for `text` at `time`.
pub fn message(text: &[u8], time: u64) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {time}\n").into_bytes();
    message.extend_from_slice(text);
    message
}

/// A witness's signer, for one cosignature time (time is an input, never read here).
#[derive(Debug, Clone)]
pub struct WitnessSigner {
    key: NamedKey,
    id: u32,
    time: u64,
}

impl WitnessSigner {
    /// The witness `name` with an Ed25519 seed, cosigning at `time` (seconds since the epoch).
    pub fn new(name: &str, seed: [u8; 32], time: u64) -> Result<Self, KeyError> {
        let key = NamedKey::from_seed(name, seed)?;
        let id = keys::key_id(name, ALG_COSIGNATURE_V1, &key.public());
        Ok(WitnessSigner { key, id, time })
    }

    /// The witness's verifier key text (`<name>+<id>+<base64(0x04 || key)>`).
    pub fn vkey(&self) -> String {
        keys::vkey(&self.key.name, ALG_COSIGNATURE_V1, &self.key.public())
    }
}

impl signed_note::Signer for WitnessSigner {
    fn name(&self) -> &str {
        &self.key.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let signature = self.key.signing.sign(&message(msg, self.time));
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

/// Verifies a trusted witness's cosignatures.
#[derive(Debug, Clone)]
pub struct WitnessVerifier {
    name: String,
    id: u32,
    public: VerifyingKey,
}

impl WitnessVerifier {
    /// From the witness's verifier key text.
    pub fn new(vkey: &str) -> Result<Self, KeyError> {
        let (name, id, public) = keys::parse_vkey(vkey, ALG_COSIGNATURE_V1)?;
        Ok(WitnessVerifier { name, id, public })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The cosignature time in a signature (`None` if it is too short).
    pub fn time_of(signature: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(signature.get(..8)?.try_into().ok()?))
    }
}

impl signed_note::Verifier for WitnessVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let Some(time) = Self::time_of(sig) else { return false };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&sig[8..]) else { return false };
        self.public.verify(&message(msg, time), &signature).is_ok()
    }
}
