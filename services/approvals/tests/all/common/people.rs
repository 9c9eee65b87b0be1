//! People's tokens for API tests: EdDSA JWTs from one test issuer, and the service
//! configuration that trusts it.
#![allow(dead_code, clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://idp.example";
pub const PROXY_KEY: &str = "wpk_test_proxy_key_0123456789";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// The `approvers` section: one provider with the test key inline; `kind: agent` in the token
/// makes an agent.
pub fn approvers_yaml() -> String {
    let x = URL_SAFE_NO_PAD.encode(key().verifying_key().as_bytes());
    format!(
        "approvers:\n  providers:\n    - name: test\n      issuer: {ISSUER}\n      algorithms: [EdDSA]\n      jwks: {{keys: [{{kty: OKP, crv: Ed25519, kid: k1, x: \"{x}\"}}]}}\n      kind_rules: [{{claim: kind, equals: agent, kind: agent}}]\n"
    )
}

/// A token for `subject` in `groups`, with extra claims.
pub fn token(subject: &str, groups: &[&str], extra: Value) -> String {
    let header = json!({"alg": "EdDSA", "kid": "k1", "typ": "JWT"});
    let mut claims =
        json!({"iss": ISSUER, "sub": subject, "groups": groups, "exp": warden_approval_service::unix_now() + 600});
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = key().sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

pub fn person(subject: &str, groups: &[&str]) -> String {
    token(subject, groups, json!({}))
}
