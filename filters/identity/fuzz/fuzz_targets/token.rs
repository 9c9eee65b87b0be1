//! Arbitrary bytes as a bearer token: decoding, verification against fixed keys and claim
//! checks must never panic, and must never accept a token (no key signs these inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_identity::jwt::{decode, verify, Algorithm, ClaimRules, VerifyingKey, DEFAULT_MAX_TOKEN_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keys = [
        VerifyingKey::hmac(Some("k".into()), Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap(), // allow-panic: constant key
        VerifyingKey::ed25519(Some("e".into()), &[0x3d; 32]).unwrap_or_else(|_| {
            VerifyingKey::hmac(Some("e".into()), Algorithm::HS384, &[7u8; 48]).unwrap() // allow-panic: constant key
        }),
    ];
    let allowed = [Algorithm::HS256, Algorithm::HS384, Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];
    if let Ok(token) = decode(text, DEFAULT_MAX_TOKEN_BYTES) {
        let rules = ClaimRules { issuer: "https://idp".into(), ..ClaimRules::default() };
        let _ = rules.check(&token.header, &token.claims, 1_767_225_600);
        assert!(verify(&token, &keys, &allowed).is_err(), "a fuzzed token verified");
    }
});
