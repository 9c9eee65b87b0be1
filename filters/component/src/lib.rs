//! `warden_component.wasm`: every Warden stage as a `wasi:http` component (world
//! `warden:gateway/gateway`), configured with the same JSON as `warden.wasm` (`stages`,
//! `max_body_bytes`) through `wasi:config/store`. See `filters/kit-component` and
//! `examples/component`.
#![deny(unsafe_code)]

#[cfg(target_arch = "wasm32")]
warden_kit_component::component!("warden", warden::compile_chain);
