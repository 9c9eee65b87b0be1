//! Using an approval: once, for the action it was given for, by the requester it was given to.

use crate::core::approval::{Approval, Status};
pub use warden_kit::approval_api::{ConsumeRefusal, ConsumeRequest};

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
