//! The approval service's HTTP API as types: the one definition the approval stage (which
//! creates, waits on and consumes approvals), the service (which answers), the `warden` CLI
//! (which lists and decides) and the service's OpenAPI document (generated from these types,
//! checked by a test) all use. Serde types only: no I/O, built into wasm.
//!
//! | endpoint | request | answer |
//! |---|---|---|
//! | `POST /v1/approvals` | [`CreateApproval`] | [`ApprovalView`] (201 new, 200 the pending one) |
//! | `GET /v1/approvals` | | [`ApprovalList`] |
//! | `GET /v1/approvals/{id}?wait=30s` | | [`ApprovalView`] |
//! | `POST /v1/approvals/{id}/approve`, `/deny` | [`DecideBody`] | [`ApprovalView`] |
//! | `POST /v1/approvals/{id}/force` | [`ForceBody`] | [`ApprovalView`] |
//! | `POST /v1/approvals/{id}/consume` | [`ConsumeRequest`] | [`Consumed`], or 409 with a [`ConsumeRefusal`] code |
//! | `POST /v1/approvals/{id}/cancel` | | [`ApprovalView`] |
//! | `GET /v1/events` | | [`EventList`] |
//!
//! Every refusal is an [`ErrorBody`] whose code is an [`ErrorCode`].
//!
//! ```
//! use warden_kit::approval_api::{ErrorBody, ErrorCode};
//! let body: ErrorBody = serde_json::from_str(r#"{"error":{"code":"approval_used","message":"no"}}"#).unwrap();
//! assert_eq!(body.error.code, ErrorCode::ApprovalUsed);
//! assert_eq!(body.error.code.consume_refusal().map(|r| r.code()), Some("approval_used"));
//! ```

mod approval;
mod consume;
mod error;
mod event;
mod vote;

pub use approval::{
    Action, Approval, ApprovalList, ApprovalView, CreateApproval, Requester, Requirement, SqlSummary, Status,
};
pub use consume::{ConsumeRefusal, ConsumeRequest, Consumed};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use event::{Event, EventActor, EventKind, EventList};
pub use vote::{DecideBody, ForceBody, Vote, VoteDecision};

/// Longest `reason` of a decision, in characters.
pub const MAX_REASON_CHARS: usize = 1024;
