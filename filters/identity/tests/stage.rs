//! The identity stage through the chain: sources, routes, facts, headers, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{Duration, UNIX_EPOCH};
use warden_identity::STAGE;
use warden_kit::facts::{IdentityFact, SubjectKind, IDENTITY};
use warden_kit::testing::FakeHost;

const NOW: u64 = 1_767_225_600;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token(claims: serde_json::Value) -> String {
    let input = format!("{}.{}", b64(br#"{"alg":"HS256","kid":"k1"}"#), b64(claims.to_string().as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn alice() -> serde_json::Value {
    json!({"iss": "https://idp.test", "aud": "warden", "sub": "alice", "exp": NOW + 600, "groups": ["eng", "oncall"],
           "scope": "repo:read repo:write", "tenant": "acme"})
}

fn config() -> serde_json::Value {
    json!({
        "providers": [{
            "name": "idp", "issuer": "https://idp.test", "audiences": ["warden"], "algorithms": ["HS256"],
            "jwks": {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64(SECRET)}]},
            "claims": ["tenant"],
            "kind_rules": [{"claim": "client_kind", "equals": "agent", "kind": "agent"}]
        }],
        "api_keys": {"keys": [{"sha256": hex::encode(Sha256::digest(b"key-for-ci-bot")), "subject": "ci-bot", "groups": ["ci"]}]},
        "spiffe": {"trust_domains": ["prod.example.org"]},
        "routes": [{"prefix": "/healthz", "requirement": "anonymous"}, {"prefix": "/public", "requirement": "optional"}]
    })
}

fn run(headers: &[(&str, &str)]) -> FakeHost {
    run_with(headers, |_| {})
}

fn run_with(headers: &[(&str, &str)], setup: impl FnOnce(&mut FakeHost)) -> FakeHost {
    let chain = STAGE.standalone(config().to_string().as_bytes()).unwrap();
    let mut host = FakeHost::with_request(headers);
    host.now = UNIX_EPOCH + Duration::from_secs(NOW);
    setup(&mut host);
    chain.start().on_request_headers(&mut host, true);
    host
}

fn fact(host: &FakeHost) -> IdentityFact {
    host.fact(IDENTITY).expect("identity fact")
}

#[test]
fn valid_token_yields_fact_and_upstream_headers() {
    let bearer = format!("Bearer {}", token(alice()));
    let host = run(&[(":path", "/api"), (":method", "GET"), ("authorization", &bearer), ("x-request-id", "r-1")]);
    assert!(host.local_reply.is_none());
    let f = fact(&host);
    assert_eq!((f.subject.as_str(), f.kind, f.method.as_str()), ("alice", SubjectKind::Human, "jwt"));
    assert_eq!(f.groups, vec!["eng", "oncall"]);
    assert_eq!(f.scopes, vec!["repo:read", "repo:write"]);
    assert_eq!(f.claims.get("tenant"), Some(&json!("acme")));
    assert_eq!(host.request_header("x-warden-subject"), Some("alice"));
    assert_eq!(host.request_header("x-warden-groups"), Some("eng,oncall"));
    assert!(host.request_header("authorization").is_some(), "forwarded by default");
}

#[test]
fn delegated_token_names_the_agent_acting_for_the_person() {
    let mut claims = alice();
    claims["act"] = json!({"sub": "agent:code-assistant", "act": {"sub": "agent:orchestrator"}});
    let bearer = format!("Bearer {}", token(claims));
    let host = run(&[(":path", "/api"), ("authorization", &bearer)]);
    let f = fact(&host);
    assert_eq!(f.subject, "alice");
    let actors: Vec<&str> = f.actors.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(actors, vec!["agent:orchestrator", "agent:code-assistant"]);
    assert_eq!(host.request_header("x-warden-actor"), Some("agent:code-assistant"));
}

#[test]
fn kind_rules_classify_agents() {
    let mut claims = alice();
    claims["client_kind"] = json!("agent");
    let bearer = format!("Bearer {}", token(claims));
    assert_eq!(fact(&run(&[(":path", "/"), ("authorization", &bearer)])).kind, SubjectKind::Agent);
}

#[test]
fn spoofed_identity_headers_are_removed_even_on_anonymous_routes() {
    let host = run(&[(":path", "/healthz"), ("x-warden-subject", "admin"), ("x-warden-kind", "service")]);
    assert!(host.local_reply.is_none());
    assert_eq!(host.request_header("x-warden-subject"), None);
    assert_eq!(host.request_header("x-warden-kind"), None);
}

#[test]
fn missing_credentials_get_401_with_a_bearer_challenge() {
    let host = run(&[(":path", "/api"), ("x-request-id", "r-9")]);
    let reply = host.local_reply.unwrap();
    assert_eq!(reply.status, 401);
    assert!(reply.headers.contains(&("www-authenticate".into(), "Bearer realm=\"warden\"".into())));
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["request_id"], "r-9");
}

#[test]
fn invalid_token_is_refused_without_echoing_it_even_on_optional_routes() {
    let mut claims = alice();
    claims["exp"] = json!(NOW - 3600);
    let expired = token(claims);
    let bearer = format!("Bearer {expired}");
    let host = run(&[(":path", "/public/page"), ("authorization", &bearer)]);
    let reply = host.local_reply.unwrap();
    assert_eq!(reply.status, 401);
    let challenge = &reply.headers.iter().find(|(k, _)| k == "www-authenticate").unwrap().1;
    assert!(challenge.contains("error=\"invalid_token\"") && challenge.contains("token expired"), "{challenge}");
    let signature = expired.rsplit('.').next().unwrap();
    assert!(!reply.body.contains(signature) && !challenge.contains(signature));
    assert!(host.logs.iter().all(|(_, line)| !line.contains(signature)));
}

#[test]
fn optional_route_without_credentials_is_anonymous() {
    let host = run(&[(":path", "/public/page")]);
    assert!(host.local_reply.is_none());
    assert!(!host.filter_state.contains_key(IDENTITY.name()));
}

#[test]
fn api_key_identifies_and_is_not_forwarded() {
    let host = run(&[(":path", "/api"), ("x-api-key", "key-for-ci-bot")]);
    let f = fact(&host);
    assert_eq!((f.subject.as_str(), f.kind, f.method.as_str()), ("ci-bot", SubjectKind::Agent, "api_key"));
    assert_eq!(host.request_header("x-api-key"), None);
    let host = run(&[(":path", "/api"), ("x-api-key", "guessed")]);
    assert_eq!(host.local_reply.map(|r| r.status), Some(401));
}

#[test]
fn spiffe_peer_identity_from_the_connection() {
    let host = run_with(&[(":path", "/api")], |h| {
        h.properties
            .insert("connection.uri_san_peer_certificate".into(), b"spiffe://prod.example.org/ns/pay/sa/api".to_vec());
    });
    let f = fact(&host);
    assert_eq!(
        (f.subject.as_str(), f.kind, f.method.as_str()),
        ("spiffe://prod.example.org/ns/pay/sa/api", SubjectKind::Service, "mtls")
    );
    let host = run_with(&[(":path", "/api")], |h| {
        h.properties.insert("connection.uri_san_peer_certificate".into(), b"spiffe://evil.example/ns/x".to_vec());
    });
    assert_eq!(host.local_reply.map(|r| r.status), Some(401));
}

#[test]
fn other_authorization_schemes_are_not_tokens() {
    let host = run(&[(":path", "/api"), ("authorization", "Basic YWxpY2U6cGFzcw==")]);
    assert_eq!(host.local_reply.map(|r| r.status), Some(401));
    assert!(!host.filter_state.contains_key(IDENTITY.name()));
}

#[test]
fn bad_configuration_names_the_field() {
    let mut c = config();
    c["providers"][0]["algorithms"] = json!(["none"]);
    assert_eq!(STAGE.standalone(c.to_string().as_bytes()).err().unwrap().field, "providers[0].algorithms[0]");
    let mut c = config();
    c["providers"][0]["issuer"] = json!("");
    assert_eq!(STAGE.standalone(c.to_string().as_bytes()).err().unwrap().field, "providers[0].issuer");
    let mut c = config();
    c["providers"][0]["jwks"]["keys"][0]["alg"] = json!("HS512");
    assert_eq!(STAGE.standalone(c.to_string().as_bytes()).err().unwrap().field, "providers[0].jwks.keys[0]");
    let mut c = config();
    c["api_keys"]["keys"][0]["sha256"] = json!("abc");
    assert_eq!(STAGE.standalone(c.to_string().as_bytes()).err().unwrap().field, "api_keys.keys[0].sha256");
    let mut c = config();
    c["providerz"] = json!([]);
    assert!(STAGE.standalone(c.to_string().as_bytes()).err().unwrap().message.contains("unknown field"));
}

#[test]
fn repeated_token_comes_from_the_cache_but_never_past_exp() {
    let chain = STAGE.standalone(config().to_string().as_bytes()).unwrap();
    let mut claims = alice();
    claims["exp"] = json!(NOW + 100);
    let bearer = format!("Bearer {}", token(claims));
    let send = |at: u64| {
        let mut host = FakeHost::with_request(&[(":path", "/api"), ("authorization", &bearer)]);
        host.now = UNIX_EPOCH + Duration::from_secs(at);
        chain.start().on_request_headers(&mut host, true);
        host
    };
    assert!(send(NOW).local_reply.is_none());
    let second = send(NOW + 1);
    assert!(second.local_reply.is_none());
    assert_eq!(second.metrics.get("warden_identity_cache_hits_total"), Some(&1));
    assert_eq!(
        send(NOW + 100 + 61).local_reply.map(|r| r.status),
        Some(401),
        "expired beyond skew: verified afresh and refused"
    );
}

/// Two providers reading the same header: a token goes to the provider its `iss` names.
fn two_issuers() -> serde_json::Value {
    let other_secret = b"fedcba9876543210fedcba9876543210";
    json!({
        "providers": [
            {"name": "partner", "issuer": "https://partner.test", "algorithms": ["HS256"],
             "jwks": {"keys": [{"kty": "oct", "kid": "p1", "alg": "HS256", "k": b64(other_secret)}]}},
            {"name": "idp", "issuer": "https://idp.test", "audiences": ["warden"], "algorithms": ["HS256"],
             "jwks": {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64(SECRET)}]}}
        ]
    })
}

#[test]
fn providers_sharing_a_header_are_chosen_by_the_tokens_issuer() {
    let chain = STAGE.standalone(two_issuers().to_string().as_bytes()).unwrap();
    let send = |claims: serde_json::Value| {
        let bearer = format!("Bearer {}", token(claims));
        let mut host = FakeHost::with_request(&[(":path", "/api"), (":method", "GET"), ("authorization", &bearer)]);
        host.now = UNIX_EPOCH + Duration::from_secs(NOW);
        chain.start().on_request_headers(&mut host, true);
        host
    };
    // The second provider's token is verified by the second provider (the first is skipped).
    let host = send(alice());
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(fact(&host).issuer, "https://idp.test");
    // A token naming no configured issuer is refused, not passed as anonymous.
    let mut stranger = alice();
    stranger["iss"] = json!("https://elsewhere.test");
    let host = send(stranger);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(401));
    // A token that names the first provider but is signed with the second's key is refused.
    let mut forged = alice();
    forged["iss"] = json!("https://partner.test");
    let host = send(forged);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(401));
}

#[test]
fn two_credentials_in_one_request_are_refused_not_one_of_them_chosen() {
    let bearer = format!("Bearer {}", token(alice()));
    let host = run(&[(":path", "/api"), ("authorization", &bearer), ("authorization", "Bearer other")]);
    let reply = host.local_reply.expect("refused");
    assert_eq!(reply.status, 401);
    assert!(!host.filter_state.contains_key(IDENTITY.name()));
    let host = run(&[(":path", "/api"), ("x-api-key", "key-for-ci-bot"), ("x-api-key", "guessed")]);
    assert_eq!(host.local_reply.map(|r| r.status), Some(401));
}

#[test]
fn two_session_cookies_are_refused_not_one_of_them_chosen() {
    let mut config = config();
    config["providers"][0]["from"] = json!({"cookie": {"name": "session"}});
    let chain = STAGE.standalone(config.to_string().as_bytes()).unwrap();
    let send = |cookies: &[&str]| {
        let mut headers = vec![(":path", "/api")];
        headers.extend(cookies.iter().map(|c| ("cookie", *c)));
        let mut host = FakeHost::with_request(&headers);
        host.now = UNIX_EPOCH + Duration::from_secs(NOW);
        chain.start().on_request_headers(&mut host, true);
        host
    };
    let good = format!("session={}", token(alice()));
    assert!(send(&[&good]).local_reply.is_none(), "one session cookie verifies");
    let twice = format!("{good}; theme=dark; session=forged");
    assert_eq!(send(&[&twice]).local_reply.map(|r| r.status), Some(401));
    assert_eq!(send(&[&good, "session=forged"]).local_reply.map(|r| r.status), Some(401), "in two cookie headers");
}
