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

use std::rc::Rc;
use warden_kit::{Chain, ConfigError, Stage};

/// Compiles the standalone filter's plugin configuration into a one-stage chain that reads
/// `warden.decision` (mask obligations) from filter state.
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: MaskConfig = warden_kit_proxywasm::config::parse(raw)?;
    let masker = Masker::compile(config)?;
    Ok(Chain::new(vec![Rc::new(masker) as Rc<dyn Stage>]).importing_facts())
}

/// The wasm entry point (`_initialize`): registers the root context.
#[cfg(all(target_arch = "wasm32", feature = "plugin"))]
#[allow(missing_docs)]
mod plugin {
    proxy_wasm::main! {{
        warden_kit_proxywasm::start("warden_mask", super::compile_chain);
    }}
}
