//! Arbitrary bytes as a JWKS document (see `checks::jwks`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwks(data));
