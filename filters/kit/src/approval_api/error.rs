//! The error answer: `{"error": {"code", "message"}}` with a stable code.

use super::consume::ConsumeRefusal;
use serde::{Deserialize, Serialize};

/// Every answer that is not a success.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A code for programs and a message for people (never a token, header or request body).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorBody {
    /// An error answer with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code, message: message.into() } }
    }
}

/// The stable error codes. A code this build does not know reads as [`ErrorCode::Other`], so
/// a newer service's codes do not make its answers unreadable.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request breaks the document (the message names the field).
    InvalidRequest,
    /// 413: the body is over 64 KiB.
    BodyTooLarge,
    /// 401: no credential, or one that does not verify.
    Unauthenticated,
    /// 403: the caller may not do this (a person where a proxy must, or the other way).
    Forbidden,
    /// 403: the person is not an eligible approver of this approval.
    NotEligible,
    /// 403: the approval asks for a recent sign-in this decision cannot prove.
    StepUpRequired,
    /// 404: no such approval, or one the caller may not see.
    NotFound,
    /// 409: the approval is no longer pending.
    NotPending,
    /// 409: the person already voted.
    AlreadyDecided,
    /// 400: a deny or a forced decision needs a reason.
    ReasonRequired,
    /// 409 to a consume: not decided yet.
    ApprovalPending,
    /// 409 to a consume: denied or cancelled.
    ApprovalDenied,
    /// 409 to a consume: not decided, or not used, in time.
    ApprovalExpired,
    /// 409 to a consume: already used.
    ApprovalUsed,
    /// 409 to a consume: another action, another requester, or no such approval.
    ApprovalMismatch,
    /// 503: the database is unavailable; nothing was changed.
    DatabaseUnavailable,
    /// 503: authentication could not finish (e.g. approvers' keys could not be fetched).
    Unavailable,
    /// 503: no randomness for a new id.
    NoRandomness,
    /// 500: something the service cannot explain; nothing was changed.
    Internal,
    /// A code this build does not know.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// Every code this build sends ([`ErrorCode::Other`] is only ever read).
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::InvalidRequest,
        ErrorCode::BodyTooLarge,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotEligible,
        ErrorCode::StepUpRequired,
        ErrorCode::NotFound,
        ErrorCode::NotPending,
        ErrorCode::AlreadyDecided,
        ErrorCode::ReasonRequired,
        ErrorCode::ApprovalPending,
        ErrorCode::ApprovalDenied,
        ErrorCode::ApprovalExpired,
        ErrorCode::ApprovalUsed,
        ErrorCode::ApprovalMismatch,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::Unavailable,
        ErrorCode::NoRandomness,
        ErrorCode::Internal,
    ];

    /// The code as sent (`invalid_request`, ...); `other` for [`ErrorCode::Other`].
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotEligible => "not_eligible",
            ErrorCode::StepUpRequired => "step_up_required",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotPending => "not_pending",
            ErrorCode::AlreadyDecided => "already_decided",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::ApprovalPending => "approval_pending",
            ErrorCode::ApprovalDenied => "approval_denied",
            ErrorCode::ApprovalExpired => "approval_expired",
            ErrorCode::ApprovalUsed => "approval_used",
            ErrorCode::ApprovalMismatch => "approval_mismatch",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NoRandomness => "no_randomness",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }

    /// The consume refusal this code is, if it is one.
    pub fn consume_refusal(self) -> Option<ConsumeRefusal> {
        Some(match self {
            ErrorCode::ApprovalPending => ConsumeRefusal::ApprovalPending,
            ErrorCode::ApprovalDenied => ConsumeRefusal::ApprovalDenied,
            ErrorCode::ApprovalExpired => ConsumeRefusal::ApprovalExpired,
            ErrorCode::ApprovalUsed => ConsumeRefusal::ApprovalUsed,
            ErrorCode::ApprovalMismatch => ConsumeRefusal::ApprovalMismatch,
            _ => return None,
        })
    }
}

impl From<ConsumeRefusal> for ErrorCode {
    fn from(refusal: ConsumeRefusal) -> ErrorCode {
        match refusal {
            ConsumeRefusal::ApprovalPending => ErrorCode::ApprovalPending,
            ConsumeRefusal::ApprovalDenied => ErrorCode::ApprovalDenied,
            ConsumeRefusal::ApprovalExpired => ErrorCode::ApprovalExpired,
            ConsumeRefusal::ApprovalUsed => ErrorCode::ApprovalUsed,
            ConsumeRefusal::ApprovalMismatch => ErrorCode::ApprovalMismatch,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_code_is_sent_as_its_name_and_read_back() {
        for code in ErrorCode::ALL {
            let sent = serde_json::to_value(code).unwrap();
            assert_eq!(sent, code.as_str(), "{code:?}");
            assert_eq!(serde_json::from_value::<ErrorCode>(sent).unwrap(), code);
        }
    }

    #[test]
    fn a_code_from_a_newer_service_is_readable_as_other() {
        let body: ErrorBody = serde_json::from_str(r#"{"error":{"code":"quota_exceeded","message":"m"}}"#).unwrap();
        assert_eq!((body.error.code, body.error.code.consume_refusal()), (ErrorCode::Other, None));
    }

    #[test]
    fn consume_refusals_are_exactly_the_approval_codes() {
        let refusals: Vec<_> = ErrorCode::ALL.into_iter().filter_map(ErrorCode::consume_refusal).collect();
        assert_eq!(refusals.len(), 5);
        for refusal in refusals {
            assert_eq!(ErrorCode::from(refusal).consume_refusal(), Some(refusal));
            assert_eq!(serde_json::to_value(refusal).unwrap(), refusal.code());
        }
    }
}
