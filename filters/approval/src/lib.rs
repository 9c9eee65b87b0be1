//! `warden_approval.wasm`: a request whose `warden.decision` is `require_approval` goes on
//! only once a human approved that exact action at the Warden approval service, and only
//! once. Two flows, chosen by the rule's `approval.mode`:
//!
//! - **hold**: the request waits in the proxy (long-poll callouts) until approved, denied or
//!   `hold_timeout`; approved, the approval is consumed and the request continues.
//! - **deferred**: the caller is answered 202 with the approval id at once and retries the
//!   same request with `x-warden-approval: <id>`; the retry consumes the approval.
//!
//! The approval is bound to an action digest (`digest`), used once, and proven by the
//! service's signed receipt, verified here and kept in `warden.approval`. Every failure of the
//! service fails closed (503 `approval_service_unavailable`). Configuration and behaviour:
//! `filters/approval/README.md`.
#![forbid(unsafe_code)]

pub mod compile;
pub mod config;
pub mod digest;
mod reply;
mod service;
mod stage;

pub use compile::Approval;
pub use config::ApprovalConfig;

use warden_kit::StageFactory;

/// The approval stage, registered once.
pub const STAGE: StageFactory = StageFactory::of::<Approval>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Approval>()
}
