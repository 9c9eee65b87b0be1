//! `warden-kit-component`: the one crate that talks to `wasi:http`. It runs a Warden chain as
//! a WebAssembly component (world `warden:gateway/gateway` in `wit/world.wit`, target
//! `wasm32-wasip2`): the counterpart of `warden-kit-proxywasm`, so the same stages serve
//! `wasi:http` hosts (`wasmtime serve`, Spin, wasmCloud) with no change.
//!
//! A component's leaf crate invokes [`component!`] with its name and the function that
//! compiles its configuration (the JSON plugin configuration `warden.wasm` takes). Per request
//! the component:
//! - reads its settings from `wasi:config/store` and compiles the chain on its instance's first
//!   request (an error answers 500 and logs the key or field, see [`settings`]); later requests
//!   of the same instance reuse the compiled chain;
//! - runs the request through the chain as Envoy would (headers, then the body piece by piece,
//!   held while the chain pauses, callouts waited for in place) and forwards it to
//!   `warden_upstream` with `wasi:http/outgoing-handler`;
//! - runs the response through the chain; the head goes to the client with the first body
//!   piece the chain lets go, so a stage can still refuse until then;
//! - ships what the stages still hold (evidence batches) before returning, since the host may
//!   drop the instance after one request.
//!
//! What `wasi:http` 0.2 does not give a component, stages see as absent: the client's address,
//! mTLS and its certificate, filter state shared with other filters, timers. Logs and metrics
//! are lines on stderr (`[metric] counter warden_... 1`).
#![deny(unsafe_code)]

pub mod exchange;
pub mod settings;

#[cfg(target_arch = "wasm32")]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod component_host;
#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod wire;

#[cfg(target_arch = "wasm32")]
pub use driver::{initialize, serve};

/// Compiles a configuration (raw bytes) into a chain, or says which field is wrong.
pub type Compile = fn(&[u8]) -> Result<warden_kit::Chain, warden_kit::ConfigError>;

/// Declares the component's `wasi:http/incoming-handler` export for a filter named `$name`
/// (used in log lines), compiling configuration with `$compile`. One per component, in its
/// leaf crate:
///
/// ```ignore
/// warden_kit_component::component!("warden", warden::compile_chain);
/// ```
#[macro_export]
macro_rules! component {
    ($name:literal, $compile:expr) => {
        #[allow(missing_docs, unsafe_code)]
        mod warden_component_entry_point {
            #[allow(unused_imports)]
            use super::*;
            use $crate::bindings::exports::wasi::http::incoming_handler::Guest;
            use $crate::bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};

            struct WardenGateway;

            impl Guest for WardenGateway {
                fn handle(request: IncomingRequest, out: ResponseOutparam) {
                    $crate::serve($name, $compile, request, out);
                }
            }

            impl $crate::bindings::Guest for WardenGateway {
                fn wizer_initialize() {
                    $crate::initialize($name, $compile);
                }
            }

            $crate::bindings::export_gateway!(WardenGateway with_types_in $crate::bindings);
        }
    };
}
