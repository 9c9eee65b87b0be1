//! `warden_guard.wasm`: the first stage of a Warden chain. It removes incoming headers that
//! only Warden may set (so no caller can spoof an identity header to the upstream), and
//! refuses requests with a method that is not allowed, a missing required header, or a body
//! over the limit. Configuration and behaviour: `filters/guard/README.md`.
#![forbid(unsafe_code)]

mod config;
mod stage;

pub use config::GuardConfig;
pub use stage::Guard;

use std::rc::Rc;
use warden_kit::{Chain, ConfigError, Stage};

/// Compiles the standalone filter's plugin configuration into a one-stage chain.
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: GuardConfig = warden_kit_proxywasm::config::parse(raw)?;
    let guard = Guard::compile(config)?;
    Ok(Chain::new(vec![Rc::new(guard) as Rc<dyn Stage>]))
}

/// The wasm entry point (`_initialize`): registers the root context.
#[cfg(all(target_arch = "wasm32", feature = "plugin"))]
#[allow(missing_docs)]
mod plugin {
    proxy_wasm::main! {{
        warden_kit_proxywasm::start("warden_guard", super::compile_chain);
    }}
}
