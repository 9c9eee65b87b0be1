//! Using an approval: once, for the action it was given for, by the requester it was given to.

use super::approval::ApprovalView;
use crate::receipt::SignedReceipt;
use serde::{Deserialize, Serialize};

/// `POST /v1/approvals/{id}/consume`: what the proxy presents to use an approval.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeRequest {
    /// The action digest the proxy computed for the request in hand.
    pub digest: String,
    /// Subject of the request in hand.
    pub subject: String,
    /// Issuer of the request in hand.
    pub issuer: String,
}

/// The answer to a consume that succeeded: the approval, now consumed, and the signed receipt
/// the proxy keeps as proof.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumed {
    /// The approval as of the answer.
    pub approval: ApprovalView,
    /// Proof of the decision, signed by the service.
    pub receipt: SignedReceipt,
}

/// Why an approval could not be used: the stable codes of a 409 answer to a consume (the
/// [`super::ErrorCode`]s of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumeRefusal {
    /// Not decided yet.
    ApprovalPending,
    /// Denied (or cancelled).
    ApprovalDenied,
    /// Not decided, or not used, in time.
    ApprovalExpired,
    /// Already used.
    ApprovalUsed,
    /// Another action, another requester, or no such approval (which one is not told).
    ApprovalMismatch,
}

impl ConsumeRefusal {
    /// The code (`approval_pending`, ...).
    pub fn code(self) -> &'static str {
        super::ErrorCode::from(self).as_str()
    }
}
