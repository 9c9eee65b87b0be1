//! Key sets fetched from the provider through a cluster: first fetch, reuse, rotation,
//! failure (fail closed), last good set kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};
use warden_identity::STAGE;
use warden_kit::testing::FakeHost;
use warden_kit::{CalloutResponse, Chain, Step};

const NOW: u64 = 1_767_225_600;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signer(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn jwk(seed: u8, kid: &str) -> serde_json::Value {
    let point = signer(seed).verifying_key().to_sec1_point(false);
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
}

fn token(seed: u8, kid: &str) -> String {
    token_for(seed, kid, "alice")
}

fn token_for(seed: u8, kid: &str, sub: &str) -> String {
    let claims = json!({"iss": "https://idp.test", "sub": sub, "exp": NOW + 3600});
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "ES256", "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig: p256::ecdsa::Signature = signer(seed).sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn chain() -> Chain {
    let config = json!({"providers": [{
        "name": "idp", "issuer": "https://idp.test", "algorithms": ["ES256"],
        "jwks_uri": {"cluster": "idp", "authority": "idp.test", "path": "/jwks", "ttl_secs": 600, "min_refetch_secs": 30}
    }]});
    STAGE.standalone(config.to_string().as_bytes()).unwrap()
}

fn host(token: &str, at: u64) -> FakeHost {
    let bearer = format!("Bearer {token}");
    let mut host = FakeHost::with_request(&[(":path", "/"), ("authorization", bearer.as_str())]);
    host.clusters.push("idp".into());
    host.now = UNIX_EPOCH + Duration::from_secs(at);
    host
}

fn jwks(keys: &[serde_json::Value]) -> CalloutResponse {
    CalloutResponse { status: 200, body: json!({"keys": keys}).to_string().into_bytes(), ..CalloutResponse::default() }
}

#[test]
fn first_request_fetches_the_key_set_and_later_ones_reuse_it() {
    let chain = chain();
    let mut h = host(&token(1, "k1"), NOW);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut h, true), Step::Pause);
    assert_eq!(h.callouts.len(), 1);
    assert_eq!((h.callouts[0].cluster.as_str(), h.callouts[0].path.as_str()), ("idp", "/jwks"));
    run.on_callout_response(&mut h, 1, jwks(&[jwk(1, "k1")]));
    assert!(h.local_reply.is_none());
    assert_eq!(h.resumed, vec![false]);
    assert_eq!(h.request_header("x-warden-subject"), Some("alice"));

    let mut h2 = host(&token(1, "k1"), NOW + 5);
    assert_eq!(chain.start().on_request_headers(&mut h2, true), Step::Continue);
    assert!(h2.callouts.is_empty(), "key set reused");
}

#[test]
fn rotated_key_is_fetched_on_unknown_kid_but_rate_limited() {
    let chain = chain();
    let mut h = host(&token(1, "k1"), NOW);
    let mut run = chain.start();
    run.on_request_headers(&mut h, true);
    run.on_callout_response(&mut h, 1, jwks(&[jwk(1, "k1")]));

    // Too soon after the last fetch: the unknown kid is refused without a fetch.
    let mut soon = host(&token(2, "k2"), NOW + 10);
    chain.start().on_request_headers(&mut soon, true);
    assert!(soon.callouts.is_empty());
    assert_eq!(soon.local_reply.map(|r| r.status), Some(401));

    // Later: the unknown kid triggers one fetch, and the rotated set verifies it.
    let mut later = host(&token(2, "k2"), NOW + 60);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut later, true), Step::Pause);
    run.on_callout_response(&mut later, 1, jwks(&[jwk(2, "k2")]));
    assert!(later.local_reply.is_none());
    assert_eq!(later.request_header("x-warden-subject"), Some("alice"));
}

#[test]
fn failed_first_fetch_fails_closed_with_503() {
    let chain = chain();
    let mut h = host(&token(1, "k1"), NOW);
    let mut run = chain.start();
    run.on_request_headers(&mut h, true);
    run.on_callout_response(&mut h, 1, CalloutResponse { status: 503, ..CalloutResponse::default() });
    let reply = h.local_reply.unwrap();
    assert_eq!(reply.status, 503);
    assert!(reply.body.contains("signing keys unavailable"));
}

#[test]
fn failed_refresh_keeps_the_last_good_set() {
    let chain = chain();
    let mut h = host(&token(1, "k1"), NOW);
    let mut run = chain.start();
    run.on_request_headers(&mut h, true);
    run.on_callout_response(&mut h, 1, jwks(&[jwk(1, "k1")]));
    // Past the TTL: a new token makes the request refresh; the refresh fails and the old set
    // still verifies it. (A token verified before would come from the token cache.)
    let mut stale = host(&token_for(1, "k1", "bob"), NOW + 700);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut stale, true), Step::Pause);
    run.on_callout_response(&mut stale, 1, CalloutResponse { status: 500, ..CalloutResponse::default() });
    assert!(stale.local_reply.is_none(), "{:?}", stale.local_reply);
    assert_eq!(stale.request_header("x-warden-subject"), Some("bob"));
    assert!(stale.logs.iter().any(|(_, l)| l.contains("keeping the last good set")));
}

#[test]
fn jwks_and_jwks_uri_are_exclusive() {
    let config = json!({"providers": [{"name": "idp", "issuer": "https://idp.test", "algorithms": ["ES256"]}]});
    assert_eq!(STAGE.standalone(config.to_string().as_bytes()).err().unwrap().field, "providers[0].jwks");
}

#[test]
fn background_tick_refreshes_the_key_set_before_requests_need_it() {
    let config = json!({"providers": [{
        "name": "idp", "issuer": "https://idp.test", "algorithms": ["ES256"],
        "jwks_uri": {"cluster": "idp", "authority": "idp.test", "path": "/jwks", "ttl_secs": 600, "min_refetch_secs": 3600}
    }]});
    let chain = STAGE.standalone(config.to_string().as_bytes()).unwrap();
    let mut background = warden_kit::Background::new(chain.clone());
    assert_eq!(background.tick_period(), Some(Duration::from_secs(300)));

    // Startup tick: no keys yet, so the root context fetches them.
    let mut root = host("", NOW);
    background.on_tick(&mut root);
    assert_eq!(root.callouts.len(), 1);
    background.on_response(&mut root, 1, jwks(&[jwk(1, "k1")]));

    // Half the TTL later the set is refreshed in the background and picks up a rotated key.
    let mut root = host("", NOW + 300);
    background.on_tick(&mut root);
    assert_eq!(root.callouts.len(), 1);
    background.on_response(&mut root, 1, jwks(&[jwk(1, "k1"), jwk(2, "k2")]));

    // A token signed with the new key verifies without any request-path fetch.
    let mut h = host(&token(2, "k2"), NOW + 301);
    assert_eq!(chain.start().on_request_headers(&mut h, true), Step::Continue);
    assert!(h.callouts.is_empty());
    assert_eq!(h.request_header("x-warden-subject"), Some("alice"));
}
