//! Delegation and claim shapes (tests/data/delegation-claims.json, shared with the approval
//! service's tests): a delegation claim of any shape means "not acting alone"; one that names no
//! actor, and any claim Warden reads that has a shape it cannot read, refuses the token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, UNIX_EPOCH};
use warden_identity::STAGE;
use warden_kit::facts::{IdentityFact, IDENTITY};
use warden_kit::testing::FakeHost;

const NOW: u64 = 1_767_225_600;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token(claims: &Value) -> String {
    let input = format!("{}.{}", b64(br#"{"alg":"HS256","kid":"k1"}"#), b64(claims.to_string().as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn cases() -> Vec<Value> {
    let text = include_str!("data/delegation-claims.json");
    let corpus: Value = serde_json::from_str(text).unwrap();
    corpus["cases"].as_array().unwrap().clone()
}

fn bob_with(add: &Value) -> Value {
    let mut claims = json!({"iss": "https://idp.test", "aud": "warden", "sub": "bob", "exp": NOW + 600,
                            "groups": ["dba"], "kind": "human"});
    for (name, value) in add.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

/// Sends bob's token with the case's claims through the stage: the fact, or the 401's challenge.
fn verify(add: &Value) -> Result<IdentityFact, String> {
    let config = json!({"providers": [{
        "name": "idp", "issuer": "https://idp.test", "audiences": ["warden"], "algorithms": ["HS256"],
        "jwks": {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64(SECRET)}]},
        "kind_rules": [{"claim": "kind", "equals": "agent", "kind": "agent"}]}]});
    let chain = STAGE.standalone(config.to_string().as_bytes()).unwrap();
    let bearer = format!("Bearer {}", token(&bob_with(add)));
    let mut host = FakeHost::with_request(&[(":path", "/api"), (":method", "GET"), ("authorization", &bearer)]);
    host.now = UNIX_EPOCH + Duration::from_secs(NOW);
    chain.start().on_request_headers(&mut host, true);
    match host.local_reply {
        Some(reply) => {
            assert_eq!(reply.status, 401, "only a 401 refuses a token");
            Err(reply.headers.iter().find(|(k, _)| k == "www-authenticate").map(|(_, v)| v.clone()).unwrap_or_default())
        }
        None => Ok(host.fact(IDENTITY).expect("identity fact")),
    }
}

#[test]
fn every_delegation_shape_is_delegated_or_refused_never_alone() {
    let cases = cases();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let outcome = verify(&case["add"]);
        match case["expect"].as_str().unwrap() {
            "refused" => {
                let challenge = outcome.err().unwrap_or_else(|| panic!("{name}: accepted"));
                assert!(challenge.contains("malformed claim"), "{name}: {challenge}");
            }
            "delegated" => {
                let fact = outcome.unwrap_or_else(|e| panic!("{name}: refused ({e})"));
                let actors: Vec<&str> = fact.actors.iter().map(|a| a.subject.as_str()).collect();
                let expected: Vec<&str> =
                    case["actors"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
                assert_eq!(actors, expected, "{name}");
                assert_eq!(fact.subject, "bob", "{name}");
            }
            "alone" => {
                let fact = outcome.unwrap_or_else(|e| panic!("{name}: refused ({e})"));
                assert!(fact.actors.is_empty(), "{name}: {:?}", fact.actors);
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
    }
}

#[test]
fn a_refused_delegation_claim_names_the_claim_not_the_token() {
    let add = json!({"act": {"client": "x"}});
    let challenge = verify(&add).unwrap_err();
    assert!(challenge.contains("malformed claim `act`"), "{challenge}");
    let signature = token(&bob_with(&add)).rsplit('.').next().unwrap().to_string();
    assert!(!challenge.contains(&signature));
}
