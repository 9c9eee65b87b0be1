//! `warden_guard.wasm`: the first stage of a Warden chain. It removes incoming headers that
//! only Warden may set (so no caller can spoof an identity header to the upstream), and
//! refuses requests with a method that is not allowed, a missing required header, or a body
//! over the limit. Configuration and behaviour: `filters/guard/README.md`.
#![forbid(unsafe_code)]

mod config;
mod stage;

pub use config::GuardConfig;
pub use stage::Guard;

use warden_kit::StageFactory;

/// The guard stage, registered once: its name, configuration type and compiler. Used by
/// `warden_guard.wasm`, the suite and native tools.
pub const STAGE: StageFactory = StageFactory::of::<Guard>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Guard>()
}
