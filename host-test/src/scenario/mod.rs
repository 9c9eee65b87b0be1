//! Scenarios: one YAML format, two backends (the wasmtime harness and a real Envoy).

pub mod check;
pub mod client;
pub mod component;
pub mod envoy;
pub mod format;
pub mod harness;
pub mod observed;
pub mod packaging;
pub mod resolve;
pub mod run;
pub mod servers;
pub mod services;
pub mod tls;

pub use format::{Backend, Packaging, Scenario};
