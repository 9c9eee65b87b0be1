//! `warden_approval.wasm`: the approval stage as its own proxy-wasm filter. Configuration: the
//! stage's (`filters/approval/README.md`). It reads `warden.identity` and `warden.decision`
//! from filter state (written by the identity and policy filters before it).
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
warden_kit_proxywasm::plugin!("warden_approval", |raw| stage::STAGE.standalone(raw));
