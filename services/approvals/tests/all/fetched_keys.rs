//! Approvers whose provider publishes its keys at a `jwks_uri` (as real OIDC providers do):
//! the service fetches the set, follows a key rotation, keeps the last good set when the
//! provider fails, and refuses people when no set can be had. The provider is a real HTTP
//! server on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::tempdir::Dir;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use warden_approval_service::config::parse;
use warden_approval_service::http::{router, App};

const ISSUER: &str = "https://login.example";

/// A fake OIDC provider's key endpoint: serves `jwks` (or `status` when it is not 200) and
/// counts the fetches.
#[derive(Clone)]
struct Provider {
    jwks: Arc<Mutex<(u16, Value)>>,
    fetches: Arc<AtomicUsize>,
    port: u16,
}

impl Provider {
    async fn start(keys: &[(&str, u8)]) -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let provider =
            Provider { jwks: Arc::new(Mutex::new((200, jwks(keys)))), fetches: Arc::new(AtomicUsize::new(0)), port };
        let serving = provider.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let serving = serving.clone();
                async move {
                    serving.fetches.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = serving.jwks.lock().unwrap().clone();
                    (StatusCode::from_u16(status).unwrap(), body.to_string())
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        provider
    }

    fn publish(&self, keys: &[(&str, u8)]) {
        *self.jwks.lock().unwrap() = (200, jwks(keys));
    }

    fn fail(&self, status: u16) {
        *self.jwks.lock().unwrap() = (status, json!({"error": "down"}));
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn jwks(keys: &[(&str, u8)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, seed)| {
            let x = URL_SAFE_NO_PAD.encode(SigningKey::from_bytes(&[*seed; 32]).verifying_key().as_bytes());
            json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x})
        })
        .collect();
    json!({ "keys": keys })
}

fn token(kid: &str, seed: u8, subject: &str) -> String {
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let claims =
        json!({"iss": ISSUER, "sub": subject, "groups": ["dba"], "exp": warden_approval_service::unix_now() + 600});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = SigningKey::from_bytes(&[seed; 32]).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn config(dir: &Dir, port: u16) -> String {
    format!(
        "database: sqlite://{}\nsigning_key_file: {}\napprovers:\n  clusters: {{idp: \"http://127.0.0.1:{port}\"}}\n  providers:\n    - name: login\n      issuer: {ISSUER}\n      algorithms: [EdDSA]\n      default_kind: human\n      jwks_uri: {{cluster: idp, authority: \"127.0.0.1:{port}\", path: /.well-known/jwks.json, min_refetch_secs: 0, ttl_secs: 600, timeout_ms: 2000}}\n",
        dir.path.join("a.db").display(),
        dir.path.join("signing.key").display(),
    )
}

async fn app(dir: &Dir, port: u16) -> Arc<App> {
    let service = parse(&config(dir, port)).unwrap().compile().unwrap();
    warden_approval_service::startup::open(service).await.unwrap()
}

/// `GET /v1/approvals` as the bearer of `token`: 200 for a verified person, 401 otherwise.
async fn list_as(app: &Arc<App>, token: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri("/v1/approvals")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_key_set_verifies_people_and_follows_a_rotation() {
    let provider = Provider::start(&[("k1", 1)]).await;
    let dir = Dir::new();
    let app = app(&dir, provider.port).await;

    let (status, _) = list_as(&app, &token("k1", 1, "alice")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(provider.fetches(), 1, "the set is fetched once");
    let (status, _) = list_as(&app, &token("k1", 1, "bob")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(provider.fetches(), 1, "a second person is verified with the set already fetched");

    // The provider rotates to k2: a token naming k2 makes the service fetch again.
    provider.publish(&[("k2", 2)]);
    let (status, _) = list_as(&app, &token("k2", 2, "carol")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(provider.fetches(), 2);

    // A token signed by a key nobody publishes is refused, never accepted.
    let (status, body) = list_as(&app, &token("k2", 9, "mallory")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_keeps_the_last_good_set_and_with_none_refuses_people() {
    let provider = Provider::start(&[("k1", 1)]).await;
    let dir = Dir::new();
    let app = app(&dir, provider.port).await;
    assert_eq!(list_as(&app, &token("k1", 1, "alice")).await.0, StatusCode::OK);

    // The provider fails; a rotation cannot be followed, but the last good set still works.
    provider.fail(503);
    let (status, _) = list_as(&app, &token("k2", 2, "bob")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(list_as(&app, &token("k1", 1, "carol")).await.0, StatusCode::OK);

    // A fresh service with the provider down has no set at all: nobody is let in.
    let fresh_dir = Dir::new();
    let fresh = self::app(&fresh_dir, provider.port).await;
    let (status, body) = list_as(&fresh, &token("k1", 1, "alice")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("key set is not available"), "{body}");
}

#[test]
fn a_jwks_uri_must_name_a_configured_cluster_with_a_base_url() {
    let dir = Dir::new();
    let unknown = config(&dir, 1).replace("cluster: idp", "cluster: elsewhere");
    let error = parse(&unknown).unwrap().compile().unwrap_err();
    assert_eq!(error.field, "approvers.providers[0].jwks_uri.cluster");

    let with_path = config(&dir, 1).replace("http://127.0.0.1:1", "http://127.0.0.1:1/keys");
    let error = parse(&with_path).unwrap().compile().unwrap_err();
    assert_eq!(error.field, "approvers.clusters.idp");
}
