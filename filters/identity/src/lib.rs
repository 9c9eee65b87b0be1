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
mod sources;
mod stage;

pub use compile::Identity;
pub use config::IdentityConfig;

use std::rc::Rc;
use warden_kit::{Chain, ConfigError, Stage};

/// Compiles the standalone filter's plugin configuration into a one-stage chain.
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: IdentityConfig = warden_kit_proxywasm::config::parse(raw)?;
    Ok(Chain::new(vec![Rc::new(Identity::compile(config)?) as Rc<dyn Stage>]))
}

/// The wasm entry point (`_initialize`): registers the root context.
#[cfg(all(target_arch = "wasm32", feature = "plugin"))]
#[allow(missing_docs)]
mod plugin {
    proxy_wasm::main! {{
        warden_kit_proxywasm::start("warden_identity", super::compile_chain);
    }}
}
