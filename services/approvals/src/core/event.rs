//! The approval event log: every state change, who made it, when and from where. The evidence
//! ledger reads it; entries are only ever appended. The types are the API's
//! ([`warden_kit::approval_api`]).

pub use warden_kit::approval_api::{Event, EventActor, EventKind};
