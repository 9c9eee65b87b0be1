//! Native cold-verify cost per algorithm: decode + signature + claims for the benchmark tokens
//! of `scenarios/bench/` (the same keys and tokens the wasm rows of `ci/bench` use).
//! Run: `cargo run --release -p warden-identity --example verify_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark program

use std::time::Instant;
use warden_identity::jwt::{decode, parse_jwks, verify, Algorithm, ClaimRules, DEFAULT_MAX_TOKEN_BYTES};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench");
    let rules = ClaimRules {
        issuer: "https://idp.scenario.test".into(),
        audiences: vec!["warden".into()],
        ..ClaimRules::default()
    };
    let now = 1_767_225_600;
    println!("{:<12} {:>12} {:>12}", "native", "median ns", "p99 ns");
    for (alg, file) in [
        (Algorithm::EdDSA, "cold-verify-eddsa"),
        (Algorithm::ES256, "cold-verify-es256"),
        (Algorithm::ES384, "cold-verify-es384"),
        (Algorithm::RS256, "cold-verify-rs256"),
        (Algorithm::PS256, "cold-verify-ps256"),
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{file}.scenario.yaml"))).unwrap();
        let token = text.split("Bearer ").nth(1).unwrap().split('"').next().unwrap().to_string();
        let jwks_line = text.lines().find(|l| l.trim_start().starts_with("jwks:")).unwrap();
        let jwks = jwks_line.trim_start().trim_start_matches("jwks:").trim();
        let (keys, _) = parse_jwks(jwks.as_bytes(), Algorithm::RS256).unwrap();
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let decoded = decode(&token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
            verify(&decoded, &keys, &[alg]).unwrap();
            rules.check(&decoded.header, &decoded.claims, now).unwrap();
            samples.push(start.elapsed().as_nanos());
        }
        samples.sort_unstable();
        println!("{:<12} {:>12} {:>12}", alg.name(), samples[100], samples[198]);
    }
}
