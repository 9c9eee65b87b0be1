//! `warden_identity.wasm`: who is calling. Verifies JWT bearer tokens (OIDC), API keys and
//! SPIFFE mTLS identities, understands delegation (an agent acting for a person, RFC 8693
//! `act`), and hands the verified identity to later stages as the `warden.identity` fact and
//! to the upstream as headers (incoming copies are always removed first). Configuration and
//! behaviour: `filters/identity/README.md`.
#![forbid(unsafe_code)]

mod cache;
pub mod compile;
pub mod config;
pub mod jwt;
pub mod native;
mod sources;
mod stage;
mod verified;
pub mod vm;

pub use compile::Identity;
pub use config::IdentityConfig;

use warden_kit::StageFactory;

/// The identity stage, registered once: its name, configuration type and compiler. Used by
/// `warden_identity.wasm`, the suite and native tools.
pub const STAGE: StageFactory = StageFactory::of::<Identity>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Identity>()
}
