//! Arbitrary bytes as a JWKS document (what a provider's endpoint returns): parsing must never
//! panic, and every key it yields must be usable for verification without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_identity::jwt::{parse_jwks, Algorithm};

fuzz_target!(|data: &[u8]| {
    if let Ok((keys, _skipped)) = parse_jwks(data, Algorithm::RS256) {
        for key in keys {
            let _ = key.verify(key.alg, b"header.payload", &[0u8; 64]);
        }
    }
});
