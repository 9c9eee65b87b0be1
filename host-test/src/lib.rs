//! `host-test`: a faithful proxy-wasm host on wasmtime, an Envoy-like filter chain model, and a
//! scenario runner whose scenarios also run unchanged in a real Envoy.
//!
//! Everything is per instance (no globals): a [`host::vm::Runtime`] compiles modules once and
//! can be shared by threads; each [`proxy::Proxy`] owns its VMs, virtual clock and shared data.
#![forbid(unsafe_code)]

pub mod bench;
pub mod component;
pub mod host;
pub mod proxy;
pub mod scenario;
