//! `warden_mask.wasm` / stage `mask`: finds sensitive data in request and response bodies
//! (prompts bound for LLM APIs, API responses read by agents and people) and replaces it
//! before it leaves the boundary; reports types, counts and JSON paths (never values) to
//! `warden.masking`. See `filters/mask/README.md`.
#![forbid(unsafe_code)]

pub mod config;
pub mod detectors;
pub mod formats;
pub mod json;
pub mod jsonpath;
pub mod profile;
pub mod scanner;
mod stage;
pub mod strategy;
pub mod stream;
pub mod validators;

pub use config::MaskConfig;
pub use stage::Masker;

use warden_kit::StageFactory;

/// The mask stage, registered once: its name, configuration type and compiler. Used by
/// `warden_mask.wasm`, the suite and native tools.
pub const STAGE: StageFactory = StageFactory::of::<Masker>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Masker>()
}
