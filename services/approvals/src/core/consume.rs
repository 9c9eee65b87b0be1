//! Using an approval: once, for the action it was given for, by the requester it was given to.

use crate::core::approval::{Approval, Status};
use serde::{Deserialize, Serialize};

/// What the proxy presents to use an approval.
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

/// Why an approval could not be used: the stable codes the proxy answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
        match self {
            ConsumeRefusal::ApprovalPending => "approval_pending",
            ConsumeRefusal::ApprovalDenied => "approval_denied",
            ConsumeRefusal::ApprovalExpired => "approval_expired",
            ConsumeRefusal::ApprovalUsed => "approval_used",
            ConsumeRefusal::ApprovalMismatch => "approval_mismatch",
        }
    }
}

/// Why `request` cannot use `approval` at `now` (after the conditional update found nothing to
/// change); `None` if it could. Someone else's approval is a mismatch whatever its status, so
/// an id tells another requester nothing.
pub fn refusal(approval: Option<&Approval>, request: &ConsumeRequest, now: u64) -> Option<ConsumeRefusal> {
    let Some(approval) = approval else { return Some(ConsumeRefusal::ApprovalMismatch) };
    if approval.requester.subject != request.subject || approval.requester.issuer != request.issuer {
        return Some(ConsumeRefusal::ApprovalMismatch);
    }
    if approval.digest != request.digest {
        return Some(ConsumeRefusal::ApprovalMismatch);
    }
    match approval.status_at(now) {
        Status::Pending => Some(ConsumeRefusal::ApprovalPending),
        Status::Denied | Status::Cancelled => Some(ConsumeRefusal::ApprovalDenied),
        Status::Expired => Some(ConsumeRefusal::ApprovalExpired),
        Status::Consumed => Some(ConsumeRefusal::ApprovalUsed),
        Status::Approved => None,
    }
}
