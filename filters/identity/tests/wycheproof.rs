//! The verifier agrees with Wycheproof: every `valid` vector accepted, every `invalid` one
//! rejected (`acceptable` vectors are not asserted). Vectors: `tests/wycheproof/` (vendored
//! from C2SP Wycheproof, Apache-2.0; see its README for the commit).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use serde_json::Value;
use std::path::PathBuf;
use warden_identity::jwt::{Algorithm, Jwk, VerifyingKey};

fn vectors(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wycheproof").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// Runs every test of every group with the group's key; returns (accepted valid, rejected invalid).
fn run(file: &str, key_of: impl Fn(&Value) -> Option<VerifyingKey>, alg: Algorithm) -> (usize, usize) {
    let data = vectors(file);
    let (mut valid, mut invalid) = (0, 0);
    for group in data["testGroups"].as_array().unwrap() {
        let key = key_of(group);
        for test in group["tests"].as_array().unwrap() {
            let (msg, sig) = (hex(&test["msg"]), hex(test.get("sig").or(test.get("tag")).unwrap()));
            let id = &test["tcId"];
            let verified = key.as_ref().is_some_and(|k| k.verify(alg, &msg, &sig).is_ok());
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert!(verified, "{file} tcId {id} ({}) is valid but was rejected", test["comment"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!verified, "{file} tcId {id} ({}) is invalid but was accepted", test["comment"]);
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    (valid, invalid)
}

fn jwk_key(group: &Value, field: &str, alg: Algorithm) -> Option<VerifyingKey> {
    let jwk: Jwk = serde_json::from_value(group[field].clone()).ok()?;
    let jwk = Jwk { alg: Some(alg.name().to_string()), kid: None, ..jwk };
    jwk.to_key(alg, false).ok()
}

/// EC key from the group's JWK, or from its uncompressed point where the group has no JWK.
fn ec_key(group: &Value, alg: Algorithm) -> Option<VerifyingKey> {
    jwk_key(group, "publicKeyJwk", alg).or_else(|| {
        let point = hex(&group["publicKey"]["uncompressed"]);
        let half = (point.len() - 1) / 2;
        VerifyingKey::ec(None, alg, &point[1..1 + half], &point[1 + half..]).ok()
    })
}

#[test]
fn ecdsa_p256_sha256() {
    let (v, i) = run("ecdsa_secp256r1_sha256_p1363_test.json", |g| ec_key(g, Algorithm::ES256), Algorithm::ES256);
    assert!(v > 100 && i > 50, "{v} valid, {i} invalid");
}

#[test]
fn ecdsa_p384_sha384() {
    let (v, i) = run("ecdsa_secp384r1_sha384_p1363_test.json", |g| ec_key(g, Algorithm::ES384), Algorithm::ES384);
    assert!(v > 100 && i > 50, "{v} valid, {i} invalid");
}

#[test]
fn ed25519() {
    let (v, i) = run("ed25519_test.json", |g| jwk_key(g, "publicKeyJwk", Algorithm::EdDSA), Algorithm::EdDSA);
    assert!(v > 50 && i > 50, "{v} valid, {i} invalid");
}

#[test]
fn rsa_pkcs1_sha256_sha384_sha512() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
    ] {
        let (v, i) = run(file, |g| jwk_key(g, "keyJwk", alg), alg);
        assert!(v > 0 && i > 100, "{file}: {v} valid, {i} invalid");
    }
}

#[test]
fn rsa_pss_sha256_salt_32() {
    let (v, i) = run(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        |g| jwk_key(g, "publicKeyJwk", Algorithm::PS256),
        Algorithm::PS256,
    );
    assert!(v > 30 && i > 30, "{v} valid, {i} invalid");
}

#[test]
fn hmac_sha256_full_length_tags() {
    // JWS HS256 uses the full 32-byte tag with keys of at least 32 bytes; truncated-tag
    // groups and shorter keys are outside JWS and refused by construction.
    let data = vectors("hmac_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in data["testGroups"].as_array().unwrap() {
        if group["tagSize"] != 256 || group["keySize"].as_u64().unwrap() < 256 {
            continue;
        }
        for test in group["tests"].as_array().unwrap() {
            let key = VerifyingKey::hmac(None, Algorithm::HS256, &hex(&test["key"])).unwrap();
            let ok = key.verify(Algorithm::HS256, &hex(&test["msg"]), &hex(&test["tag"])).is_ok();
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert!(ok, "tcId {} rejected", test["tcId"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!ok, "tcId {} accepted", test["tcId"]);
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    assert!(valid > 10 && invalid > 10, "{valid} valid, {invalid} invalid");
}
