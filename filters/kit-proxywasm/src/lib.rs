//! `warden-kit-proxywasm`: the one crate that talks to the proxy-wasm SDK.
//!
//! A module's leaf crate (`filters/<stage>/wasm`, `filters/suite`) invokes [`plugin!`] with
//! the module's name and a function that compiles its plugin configuration into a
//! [`warden_kit::Chain`]. This crate provides:
//! - a root context that parses and compiles the configuration once in `on_configure`
//!   (rejecting it, with a log line naming the field, on any error) and logs the build
//!   version at VM start;
//! - an HTTP context that runs the chain per request and applies its effects;
//! - hostcall wrappers that return errors instead of panicking on unexpected statuses
//!   (Envoy answers `BadArgument` once a header map's phase has passed, see
//!   `docs/envoy-behaviour.md`);
//! - a panic hook that logs the panic before the VM dies.
//!
//! Everything touching the host is compiled for `wasm32` only.
#![deny(unsafe_code)]

/// The proxy-wasm SDK, for [`plugin!`]'s expansion only.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use proxy_wasm;

/// Declares a module's entry point (`_initialize`): registers the Warden root context for a
/// filter named `$name` (used in log lines), compiling plugin configuration with `$compile`
/// (`fn(&[u8]) -> Result<Chain, ConfigError>`). One per `.wasm`, in its leaf crate:
///
/// ```ignore
/// warden_kit_proxywasm::plugin!("warden_guard", |raw| warden_guard::STAGE.standalone(raw));
/// ```
#[macro_export]
macro_rules! plugin {
    ($name:literal, $compile:expr) => {
        #[allow(missing_docs)]
        mod warden_entry_point {
            #[allow(unused_imports)]
            use super::*;
            $crate::proxy_wasm::main! {{
                $crate::start($name, $compile);
            }}
        }
    };
}

#[cfg(target_arch = "wasm32")]
mod hostcalls;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod proxy_host;
#[cfg(target_arch = "wasm32")]
mod root;

#[cfg(target_arch = "wasm32")]
pub use root::start;

/// Compiles a plugin configuration (raw bytes) into a chain, or says which field is wrong.
pub type Compile = fn(&[u8]) -> Result<warden_kit::Chain, warden_kit::ConfigError>;
