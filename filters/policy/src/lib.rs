//! `warden_policy.wasm` / stage `policy`: decides for every request whether it is allowed,
//! denied, needs a human's approval, or must have data masked, from the verified identity
//! (`warden.identity`) and what the request does: method, host, path, query, headers,
//! source, time, JSON body, MCP tool calls and SQL. See `filters/policy/README.md`.
#![forbid(unsafe_code)]

pub mod compile;
pub mod config;
pub mod decide;
mod index;
pub mod matchers;
pub mod mcp;
pub mod request;
pub mod sql;
mod stage;
pub mod tools_list;
pub mod when;
pub mod zone;

pub use compile::Policy;
pub use config::PolicyConfig;

use std::rc::Rc;
use warden_kit::{Chain, ConfigError, Stage};

/// Compiles the standalone filter's plugin configuration into a one-stage chain that reads
/// `warden.identity` from filter state (written by a separate identity filter).
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: PolicyConfig = warden_kit_proxywasm::config::parse(raw)?;
    let policy = Policy::compile(config)?;
    Ok(Chain::new(vec![Rc::new(policy) as Rc<dyn Stage>]).importing_facts())
}

/// The wasm entry point (`_initialize`): registers the root context.
#[cfg(all(target_arch = "wasm32", feature = "plugin"))]
#[allow(missing_docs)]
mod plugin {
    proxy_wasm::main! {{
        warden_kit_proxywasm::start("warden_policy", super::compile_chain);
    }}
}
