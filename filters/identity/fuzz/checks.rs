//! What each fuzz target checks of one input, shared by the cargo-fuzz targets
//! (`fuzz_targets/`, nightly, `ci/fuzz`) and the stable replay of the saved regression inputs
//! (`filters/identity/tests/fuzz_regressions.rs`, every `ci/test`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_identity::jwt::{decode, parse_jwks, verify, Algorithm, ClaimRules, VerifyingKey, DEFAULT_MAX_TOKEN_BYTES};

/// Arbitrary bytes as a bearer token: decoding, verification against fixed keys and claim
/// checks must never panic, and must never accept a token (no key signs these inputs).
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keys = [
        VerifyingKey::hmac(Some("k".into()), Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap(),
        VerifyingKey::ed25519(Some("e".into()), &[0x3d; 32])
            .unwrap_or_else(|_| VerifyingKey::hmac(Some("e".into()), Algorithm::HS384, &[7u8; 48]).unwrap()),
    ];
    let allowed = [Algorithm::HS256, Algorithm::HS384, Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];
    if let Ok(token) = decode(text, DEFAULT_MAX_TOKEN_BYTES) {
        let rules = ClaimRules { issuer: "https://idp".into(), ..ClaimRules::default() };
        let _ = rules.check(&token.header, &token.claims, 1_767_225_600);
        assert!(verify(&token, &keys, &allowed).is_err(), "a fuzzed token verified");
    }
}

/// Arbitrary bytes as a JWKS document (what a provider's endpoint returns): parsing must never
/// panic, and every key it yields must be usable for verification without panicking.
pub fn jwks(data: &[u8]) {
    if let Ok((keys, _skipped)) = parse_jwks(data, Algorithm::RS256) {
        for key in keys {
            let _ = key.verify(key.alg, b"header.payload", &[0u8; 64]);
        }
    }
}
