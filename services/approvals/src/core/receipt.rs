//! Signing decisions: the service's Ed25519 key and the receipt of a decided approval.

use crate::core::approval::{Approval, Status};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey};
pub use warden_kit::receipt::{key_id, verify, Decider, Outcome, Party, Receipt, SignedReceipt, RECEIPT_VERSION};

/// The service's signing key.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key_id) // never the key
    }
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(key.verifying_key().as_bytes());
        Signer { key, key_id }
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs a receipt.
    pub fn sign(&self, receipt: Receipt) -> Result<SignedReceipt, warden_kit::canonical::CanonicalError> {
        let signature = self.key.sign(&receipt.signed_bytes()?);
        Ok(SignedReceipt {
            receipt,
            key_id: self.key_id.clone(),
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        })
    }
}

/// The receipt of a decided approval; `None` while it is undecided.
pub fn receipt_of(approval: &Approval) -> Option<Receipt> {
    let decision = match approval.status {
        Status::Approved | Status::Consumed => Outcome::Approved,
        Status::Denied => Outcome::Denied,
        Status::Expired if approval.use_by.is_some() => Outcome::Approved,
        _ => return None,
    };
    Some(Receipt {
        v: RECEIPT_VERSION,
        approval_id: approval.id.clone(),
        digest: approval.digest.clone(),
        requester: Party { subject: approval.requester.subject.clone(), issuer: approval.requester.issuer.clone() },
        decision,
        deciders: approval
            .votes
            .iter()
            .map(|v| Decider {
                subject: v.subject.clone(),
                issuer: v.issuer.clone(),
                decision: v.decision,
                forced: v.forced,
            })
            .collect(),
        forced: approval.forced,
        decided_at: approval.decided_at?,
        expires_at: approval.use_by,
    })
}
