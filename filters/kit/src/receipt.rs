//! The approval service's signed receipt: proof that named humans decided one action for one
//! requester. The service signs it (Ed25519 over the receipt's RFC 8785 canonical JSON); the
//! approval stage verifies it with the configured public key and keeps it in
//! `warden.approval`, so the audit trail holds proof of approval, checkable offline.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the receipt shape.
pub const RECEIPT_VERSION: u32 = 1;

/// Who a receipt is for, or who decided.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The subject its issuer names it by (the requester, or a person who decided).
    pub subject: String,
    /// The issuer of the credential that named the subject.
    pub issuer: String,
}

/// What an approval came to, as a receipt says it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved (and perhaps since used or expired unused).
    Approved,
    /// Denied.
    Denied,
}

/// One person who decided.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decider {
    /// The subject of the person who voted, as their sign-in named them.
    pub subject: String,
    /// The issuer of that sign-in.
    pub issuer: String,
    /// `approve` or `deny`.
    pub decision: crate::approval_api::VoteDecision,
    /// Decided by break-glass.
    pub forced: bool,
}

/// What the service signs when an approval is decided.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Shape version ([`RECEIPT_VERSION`]).
    pub v: u32,
    /// Approval id.
    pub approval_id: String,
    /// Action digest the approval is bound to.
    pub digest: String,
    /// Who asked.
    pub requester: Party,
    /// `approved` or `denied`.
    pub decision: Outcome,
    /// Everyone who voted, in order.
    pub deciders: Vec<Decider>,
    /// Decided by break-glass.
    pub forced: bool,
    /// When decided, seconds since the epoch.
    pub decided_at: u64,
    /// Use by (approved only), seconds since the epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl Receipt {
    /// The bytes signed: the receipt's canonical JSON.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, crate::canonical::CanonicalError> {
        crate::canonical::to_vec(self)
    }
}

/// A receipt with its signature.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// What the service signed.
    pub receipt: Receipt,
    /// Signing key id: the first 16 hex digits of the SHA-256 of the raw public key.
    pub key_id: String,
    /// Ed25519 signature over [`Receipt::signed_bytes`], base64url without padding.
    pub signature: String,
}

/// The key id of a raw Ed25519 public key: the first 16 hex digits of its SHA-256.
pub fn key_id(public: &[u8; 32]) -> String {
    crate::hex::encode(&Sha256::digest(public)[..8])
}

/// Whether `signed` carries a valid signature by `public` (and names that key).
pub fn verify(public: &[u8; 32], signed: &SignedReceipt) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else { return false };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(&signed.signature) else { return false };
    let Ok(signature) = Signature::from_slice(&bytes) else { return false };
    let Ok(message) = signed.receipt.signed_bytes() else { return false };
    signed.key_id == key_id(public) && key.verify(&message, &signature).is_ok()
}
