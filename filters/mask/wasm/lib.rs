//! `warden_mask.wasm`: the mask stage as its own proxy-wasm filter. Configuration: the
//! stage's (`filters/mask/README.md`). Facts the stage reads come from filter state.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
warden_kit_proxywasm::plugin!("warden_mask", |raw| stage::STAGE.standalone(raw));
