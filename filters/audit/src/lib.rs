//! The audit stage: at the end of every request (allowed, refused by any stage, answered
//! locally, failed upstream) it writes one record of who did what, what policy decided, who
//! approved, what was hidden and how it ended ([`warden_kit::audit::AuditRecord`]), as RFC
//! 8785 canonical JSON, chained per VM (stream id, sequence, previous hash). The record goes to
//! filter state (`wasm.warden.audit`) for Envoy's access loggers. Configuration and record
//! shape: `filters/audit/README.md`.
#![forbid(unsafe_code)]

mod config;
pub mod ledger;
mod record;
mod stage;
mod stream;
mod writer;

pub use config::AuditConfig;
pub use record::{build, Observed};
pub use stage::Audit;
pub use stream::Stream;
pub use writer::{write, Position};

use warden_kit::StageFactory;

/// The audit stage, registered once. Used by `warden_audit.wasm`, the suite and native tools.
pub const STAGE: StageFactory = StageFactory::of::<Audit>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Audit>()
}
