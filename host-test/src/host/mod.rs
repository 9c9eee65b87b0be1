//! The proxy-wasm ABI 0.2.1 host on wasmtime: hostcalls, WASI subset, VMs.

pub mod abi;
pub mod imports;
pub mod memory;
pub mod properties;
pub mod state;
pub mod vm;
pub mod wasi;
