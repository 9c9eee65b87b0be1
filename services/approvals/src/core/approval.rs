//! The approval record: one action by one requester, with its requirement and timers. The
//! types are the API's ([`warden_kit::approval_api`]): the service stores and answers exactly
//! what the proxy and the CLI read.

pub use warden_kit::approval_api::{Action, Approval, Requester, Requirement, SqlSummary, Status};
