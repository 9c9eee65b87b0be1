//! `warden_audit.wasm`: the audit stage as its own proxy-wasm filter, placed after the other
//! Warden filters; it reads their facts from filter state. Configuration:
//! `filters/audit/README.md`.
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
warden_kit_proxywasm::plugin!("warden_audit", |raw| stage::STAGE.standalone(raw));
