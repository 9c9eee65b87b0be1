//! Webhooks and Teams against a local fake that records what it is sent: signed events for
//! each step of an approval, the Teams card with a link to the page, retries with backoff, a
//! channel given up on (recorded in the approval's history, no secret in the error), and two
//! replicas sending each notice once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use warden_approval_service::core::EventKind;

use crate::common::people::{approvers_yaml, person, PROXY_KEY};
use crate::common::tempdir::Dir;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use warden_approval_service::channels::run_once;
use warden_approval_service::config::{key_sha256, parse};
use warden_approval_service::http::{router, App};

const SECRET_B64: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TEAMS_SIG: &str = "sig=teams-workflow-signature-123";

/// What the fake received: (path, headers, body); and how many failures to answer first.
#[derive(Default)]
struct Fake {
    received: Mutex<Vec<(String, HeaderMap, String)>>,
    fail_first: Mutex<usize>,
}

async fn receive(State(fake): State<Arc<Fake>>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut failures = fake.fail_first.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    fake.received.lock().unwrap().push((uri.to_string(), headers, String::from_utf8(body.to_vec()).unwrap()));
    StatusCode::OK
}

async fn fake_server(fake: Arc<Fake>) -> String {
    let app = Router::new().route("/hook", post(receive)).route("/teams", post(receive)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn service(dir: &Dir, base: &str, max_attempts: u32) -> Arc<App> {
    service_on(dir, &format!("sqlite://{}", dir.path.join("a.db").display()), base, max_attempts).await
}

async fn service_on(dir: &Dir, database: &str, base: &str, max_attempts: u32) -> Arc<App> {
    std::fs::write(dir.path.join("hook.secret"), format!("whsec_{SECRET_B64}\n")).unwrap();
    std::fs::write(dir.path.join("teams.url"), format!("{base}/teams?{TEAMS_SIG}\n")).unwrap();
    let yaml = format!(
        "database: {database}\nsigning_key_file: {}\npublic_url: https://approvals.example.com\nproxies: [{{name: envoy, key_sha256: {}}}]\n{}channels:\n  max_attempts: {max_attempts}\n  timeout_ms: 2000\n  webhooks: [{{name: automation, url: \"{base}/hook\", secret_file: {}}}]\n  teams: [{{name: ops-channel, url_file: {}}}]\n",
        dir.path.join("signing.key").display(),
        key_sha256(PROXY_KEY),
        approvers_yaml(),
        dir.path.join("hook.secret").display(),
        dir.path.join("teams.url").display(),
    );
    warden_approval_service::startup::open(parse(&yaml).unwrap().compile().unwrap()).await.unwrap()
}

async fn call(app: &Arc<App>, method: &str, path: &str, bearer: &str, body: Value) -> Value {
    crate::common::api::call(app, method, path, bearer, &body).await.1
}

async fn create(app: &Arc<App>, path: &str) -> String {
    let body = json!({
        "digest": format!("sha256:{:0>64x}", path.len() * 31 + path.bytes().map(usize::from).sum::<usize>()),
        "requester": {"subject": "alice", "issuer": "api_key", "kind": "human"},
        "action": {"method": "DELETE", "authority": "api", "path": path, "rules": ["deletes"], "reasons": ["needs a DBA"]},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 60}
    });
    call(app, "POST", "/v1/approvals", PROXY_KEY, body).await["id"].as_str().unwrap().to_string()
}

/// Checks a Standard Webhooks signature independently of the service's code.
fn signature_ok(headers: &HeaderMap, body: &str) -> bool {
    let id = headers["webhook-id"].to_str().unwrap();
    let ts = headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&STANDARD.decode(SECRET_B64).unwrap()).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    headers["webhook-signature"].to_str().unwrap() == format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn now() -> u64 {
    warden_approval_service::unix_now()
}

#[tokio::test]
async fn each_step_of_an_approval_reaches_the_webhook_signed_and_teams_as_a_card() {
    let fake = Arc::new(Fake::default());
    let base = fake_server(fake.clone()).await;
    let dir = Dir::new();
    let app = service(&dir, &base, 8).await;
    let id = create(&app, "/customers/[click](https://evil.example)").await;
    assert_eq!(run_once(&app, &app.channels, now()).await.unwrap(), 2);
    call(&app, "POST", &format!("/v1/approvals/{id}/approve"), &person("bob", &["dba"]), json!({})).await;
    run_once(&app, &app.channels, now()).await.unwrap();

    let received = fake.received.lock().unwrap().clone();
    let hooks: Vec<_> = received.iter().filter(|(p, _, _)| p == "/hook").collect();
    let types: Vec<String> = hooks
        .iter()
        .map(|(_, _, b)| serde_json::from_str::<Value>(b).unwrap()["type"].as_str().unwrap().into())
        .collect();
    assert_eq!(types, ["approval.created", "approval.decided"]);
    for (_, headers, body) in &hooks {
        assert!(signature_ok(headers, body), "signature of {body}");
    }
    let decided: Value = serde_json::from_str(&hooks[1].2).unwrap();
    assert_eq!(decided["data"]["status"], "approved");
    assert_eq!(decided["data"]["votes"][0]["subject"], "bob");
    assert_eq!(decided["data"]["url"], format!("https://approvals.example.com/ui/approvals/{id}"));

    let cards: Vec<_> = received.iter().filter(|(p, _, _)| p.starts_with("/teams")).collect();
    assert_eq!(cards.len(), 2);
    let card: Value = serde_json::from_str(&cards[0].2).unwrap();
    let content = &card["attachments"][0]["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(content["actions"][0]["url"], format!("https://approvals.example.com/ui/approvals/{id}"));
    let text = content.to_string();
    assert!(text.contains("alice") && text.contains("DELETE"), "{text}");
    assert!(!text.contains("[click](https"), "request text cannot make links: {text}");
}

#[tokio::test]
async fn a_channel_that_fails_is_retried_then_given_up_on_in_the_history() {
    let fake = Arc::new(Fake::default());
    let base = fake_server(fake.clone()).await;
    let dir = Dir::new();
    let app = service(&dir, &base, 3).await;
    *fake.fail_first.lock().unwrap() = 2; // the webhook fails twice, then answers
    let id = create(&app, "/customers/1").await;
    let t = now();
    run_once(&app, &app.channels, t).await.unwrap();
    // Not due yet: nothing is sent again before the backoff.
    assert_eq!(run_once(&app, &app.channels, t).await.unwrap(), 0);
    run_once(&app, &app.channels, t + 100).await.unwrap();
    assert_eq!(fake.received.lock().unwrap().len(), 2, "both delivered once the receiver recovered");

    // A receiver that never recovers: after max_attempts the delivery is given up on, and the
    // approval's history says so (without the Teams URL's signature).
    *fake.fail_first.lock().unwrap() = 1000;
    call(&app, "POST", &format!("/v1/approvals/{id}/approve"), &person("bob", &["dba"]), json!({})).await;
    for round in 0..5 {
        run_once(&app, &app.channels, t + 1000 * (round + 2)).await.unwrap();
    }
    let events = app.store.events(0, 100).await.unwrap();
    let failed: Vec<_> = events.iter().filter(|e| e.kind == EventKind::DeliveryFailed).collect();
    assert_eq!(failed.len(), 2, "webhook and Teams");
    for e in failed {
        assert_eq!(e.detail["attempts"], 3);
        assert!(e.detail["error"].as_str().unwrap().contains("503"));
        assert!(!e.detail.to_string().contains("teams-workflow-signature"));
    }
    let counts = app.store.delivery_counts().await.unwrap();
    assert!(counts.contains(&("automation".into(), "failed".into(), 1)), "{counts:?}");
}

#[tokio::test]
async fn two_replicas_send_each_notice_once_on_sqlite() {
    let dir = Dir::new();
    two_replicas_send_each_notice_once(&dir, &format!("sqlite://{}", dir.path.join("a.db").display())).await;
}

#[tokio::test]
async fn two_replicas_send_each_notice_once_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    let dir = Dir::new();
    two_replicas_send_each_notice_once(&dir, &crate::common::postgres_url().await).await;
}

async fn two_replicas_send_each_notice_once(dir: &Dir, database: &str) {
    let fake = Arc::new(Fake::default());
    let base = fake_server(fake.clone()).await;
    let one = service_on(dir, database, &base, 8).await;
    let two = service_on(dir, database, &base, 8).await;
    for i in 0..5 {
        create(&one, &format!("/customers/{i}")).await;
    }
    let t = now();
    let (a, b) = tokio::join!(run_once(&one, &one.channels, t), run_once(&two, &two.channels, t));
    a.unwrap();
    b.unwrap();
    run_once(&one, &one.channels, t).await.unwrap();
    run_once(&two, &two.channels, t).await.unwrap();
    let received = fake.received.lock().unwrap();
    let ids: std::collections::BTreeSet<String> = received
        .iter()
        .filter(|(p, _, _)| p == "/hook")
        .map(|(_, h, _)| h["webhook-id"].to_str().unwrap().into())
        .collect();
    assert_eq!(received.len(), 10, "5 approvals x (webhook + Teams), none twice");
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn failed_deliveries_show_in_the_metrics() {
    let fake = Arc::new(Fake::default());
    let base = fake_server(fake.clone()).await;
    let dir = Dir::new();
    let app = service(&dir, &base, 1).await;
    *fake.fail_first.lock().unwrap() = 1000;
    create(&app, "/customers/7").await;
    run_once(&app, &app.channels, now()).await.unwrap();
    let request = |bearer: &str| {
        axum::http::Request::builder()
            .uri("/metrics")
            .header("authorization", format!("Bearer {bearer}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let response = router(app.clone()).oneshot(request(PROXY_KEY)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("warden_approvals_deliveries{channel=\"automation\",status=\"failed\"} 1"), "{text}");
    assert!(text.contains("warden_approvals{status=\"pending\"} 1"), "{text}");
    let person = person("bob", &["dba"]);
    assert_eq!(router(app.clone()).oneshot(request(&person)).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_missing_secret_file_names_its_field_and_never_its_content() {
    let dir = Dir::new();
    std::fs::write(dir.path.join("hook.secret"), format!("whsec_{SECRET_B64}")).unwrap();
    let yaml = format!(
        "database: sqlite://{}\nsigning_key_file: {}\nchannels:\n  webhooks: [{{name: a, url: \"http://127.0.0.1:9/hook\", secret_file: {}}}]\n  teams: [{{name: b, url_file: {}}}]\n",
        dir.path.join("a.db").display(),
        dir.path.join("signing.key").display(),
        dir.path.join("hook.secret").display(),
        dir.path.join("missing.url").display(),
    );
    let Err(err) = warden_approval_service::startup::open(parse(&yaml).unwrap().compile().unwrap()).await else {
        panic!("a missing secret file must stop the service from starting");
    };
    let err = err.to_string();
    assert!(err.contains("channels.teams[0].url_file"), "{err}");
    assert!(!err.contains(SECRET_B64));
}
