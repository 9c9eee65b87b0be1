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
/// MCP request parsing (moved to the kit, shared with the approval stage).
pub use warden_kit::mcp;
#[cfg(feature = "packs")]
pub mod packs;
pub mod paths;
pub mod request;
pub mod sql;
mod stage;
pub mod tools_list;
pub mod when;
pub mod zone;

pub use compile::Policy;
pub use config::PolicyConfig;

use warden_kit::StageFactory;

/// The policy stage, registered once: its name, configuration type and compiler. Used by
/// `warden_policy.wasm`, the suite and native tools.
pub const STAGE: StageFactory = StageFactory::of::<Policy>();

/// JSON Schema (2020-12) of this stage's configuration, from its Rust types (feature `schema`,
/// native only; `warden config schema` writes them all).
#[cfg(feature = "schema")]
pub fn config_schema() -> schemars::Schema {
    warden_kit::config_schema::<Policy>()
}
