//! `warden-kit-proxywasm`: the one crate that talks to the proxy-wasm SDK.
//!
//! A filter crate (or the suite) calls [`start`] from `proxy_wasm::main!` with a function
//! that compiles its plugin configuration into a [`warden_kit::Chain`]. This crate provides:
//! - a root context that parses and compiles the configuration once in `on_configure`
//!   (rejecting it, with a log line naming the field, on any error) and logs the build
//!   version at VM start;
//! - an HTTP context that runs the chain per request and applies its effects;
//! - hostcall wrappers that return errors instead of panicking on unexpected statuses
//!   (Envoy answers `BadArgument` once a header map's phase has passed, see
//!   `shared/notes/envoy-1.40.md`);
//! - a panic hook that logs the panic before the VM dies.
//!
//! Everything touching the host is compiled for `wasm32` only; [`config`] is plain Rust.
#![deny(unsafe_code)]

pub mod config;

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
