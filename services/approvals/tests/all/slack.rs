//! Slack against a local fake of its Web API (`chat.postMessage`, `chat.update`, `users.info`,
//! response URLs) that records what it is sent, and interaction payloads signed as Slack signs
//! them: a message per approval with escaped text and buttons, a click deciding as the person
//! whose verified email matches, the message updated after the decision; bad signatures, old
//! timestamps, a replayed payload, an unknown user and the requester refused and recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use warden_approval_service::core::EventKind;

use crate::common::people::{approvers_yaml, PROXY_KEY};
use crate::common::tempdir::Dir;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;
use warden_approval_service::channels::run_once;
use warden_approval_service::config::{key_sha256, parse};
use warden_approval_service::core::approver::Approver;
use warden_approval_service::http::{router, App};
use warden_kit::facts::SubjectKind;

const SIGNING_SECRET: &str = "slack-signing-secret-for-tests";
const BOT_TOKEN: &str = "xoxb-test-bot-token";

#[derive(Default)]
struct FakeSlack {
    calls: Mutex<Vec<(String, Value)>>,
    ephemeral: Mutex<Vec<String>>,
}

async fn fake_slack(fake: Arc<FakeSlack>) -> String {
    async fn post_message(State(f): State<Arc<FakeSlack>>, Json(body): Json<Value>) -> Json<Value> {
        f.calls.lock().unwrap().push(("chat.postMessage".into(), body.clone()));
        Json(json!({"ok": true, "channel": body["channel"], "ts": "1700000000.000100"}))
    }
    async fn update(State(f): State<Arc<FakeSlack>>, Json(body): Json<Value>) -> Json<Value> {
        f.calls.lock().unwrap().push(("chat.update".into(), body.clone()));
        Json(json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}))
    }
    async fn users_info(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
        let email = match q.get("user").map(String::as_str) {
            Some("U_BOB") => "Bob@Example.com",
            Some("U_ALICE") => "alice@example.com",
            Some("U_EVE") => "eve@example.com",
            _ => return Json(json!({"ok": false, "error": "user_not_found"})),
        };
        Json(
            json!({"ok": true, "user": {"id": q["user"], "deleted": false, "is_bot": false, "profile": {"email": email}}}),
        )
    }
    async fn respond(State(f): State<Arc<FakeSlack>>, Json(body): Json<Value>) -> StatusCode {
        f.ephemeral.lock().unwrap().push(body["text"].as_str().unwrap_or_default().to_string());
        StatusCode::OK
    }
    let app = Router::new()
        .route("/api/chat.postMessage", post(post_message))
        .route("/api/chat.update", post(update))
        .route("/api/users.info", get(users_info))
        .route("/response/{id}", post(respond))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// SQLite in `dir`, or a fresh PostgreSQL database.
async fn database(dir: &Dir, postgres: bool) -> String {
    if postgres {
        crate::common::postgres_url().await
    } else {
        format!("sqlite://{}", dir.path.join("a.db").display())
    }
}

async fn service(dir: &Dir, base: &str, database: &str) -> Arc<App> {
    std::fs::write(dir.path.join("bot.token"), BOT_TOKEN).unwrap();
    std::fs::write(dir.path.join("signing.secret"), SIGNING_SECRET).unwrap();
    let yaml = format!(
        "database: {database}\nsigning_key_file: {}\npublic_url: https://approvals.example.com\nproxies: [{{name: envoy, key_sha256: {}}}]\n{}channels:\n  slack: [{{name: ops, channel: C0OPS, bot_token_file: {}, signing_secret_file: {}, api_url: \"{base}/api\", response_url_prefix: \"{base}/response/\"}}]\n",
        dir.path.join("signing.key").display(),
        key_sha256(PROXY_KEY),
        approvers_yaml(),
        dir.path.join("bot.token").display(),
        dir.path.join("signing.secret").display(),
    );
    let app = warden_approval_service::startup::open(parse(&yaml).unwrap().compile().unwrap()).await.unwrap();
    // bob and alice signed in to the web pages once: their provider verified these emails.
    for (subject, email) in [("bob", "bob@example.com"), ("alice", "alice@example.com")] {
        let person = Approver {
            subject: subject.into(),
            issuer: "https://idp.example".into(),
            kind: SubjectKind::Human,
            delegated: false,
            groups: vec!["dba".into()],
        };
        app.store.remember_person(&person, email, warden_approval_service::unix_now()).await.unwrap();
    }
    app
}

async fn send(app: &Arc<App>, request: Request<Body>) -> StatusCode {
    router(app.clone()).oneshot(request).await.unwrap().status()
}

async fn create(app: &Arc<App>) -> String {
    let body = json!({
        "digest": format!("sha256:{}", "c".repeat(64)),
        "requester": {"subject": "alice", "issuer": "api_key", "kind": "human"},
        "action": {"method": "DELETE", "authority": "db", "path": "/orders/<!channel>", "rules": ["deletes"],
                   "reasons": ["needs a DBA <https://evil.example|click>"]},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 60}
    });
    crate::common::api::create(app, &body).await
}

/// A click as Slack sends it: form-encoded payload, signed with the app's signing secret.
fn click(base: &str, user: &str, action: &str, id: &str, secret: &str, timestamp: u64) -> Request<Body> {
    let payload = json!({"type": "block_actions", "user": {"id": user}, "response_url": format!("{base}/response/1"),
                         "actions": [{"action_id": action, "value": id}]});
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let signature = format!("v0={}", warden_kit::hex::encode(&mac.finalize().into_bytes()));
    Request::builder()
        .method("POST")
        .uri("/slack/interactions")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(Body::from(Bytes::from(body)))
        .unwrap()
}

/// Waits for the background decision to answer the user.
async fn ephemeral(fake: &FakeSlack, count: usize) -> Vec<String> {
    for _ in 0..100 {
        if fake.ephemeral.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.ephemeral.lock().unwrap().clone()
}

#[tokio::test]
async fn a_click_decides_as_the_verified_person_and_the_message_follows_the_decision_on_sqlite() {
    a_click_decides_as_the_verified_person_and_the_message_follows_the_decision(false).await;
}

#[tokio::test]
async fn a_click_decides_as_the_verified_person_and_the_message_follows_the_decision_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    a_click_decides_as_the_verified_person_and_the_message_follows_the_decision(true).await;
}

async fn a_click_decides_as_the_verified_person_and_the_message_follows_the_decision(postgres: bool) {
    let fake = Arc::new(FakeSlack::default());
    let base = fake_slack(fake.clone()).await;
    let dir = Dir::new();
    let app = service(&dir, &base, &database(&dir, postgres).await).await;
    let id = create(&app).await;
    run_once(&app, &app.channels, warden_approval_service::unix_now()).await.unwrap();
    let (method, posted) = fake.calls.lock().unwrap()[0].clone();
    assert_eq!((method.as_str(), posted["channel"].as_str()), ("chat.postMessage", Some("C0OPS")));
    let text = posted["blocks"].to_string();
    assert!(!text.contains("<!channel>") && !text.contains("<https://evil"), "escaped: {text}");
    assert!(text.contains("\"action_id\":\"approve\"") && text.contains("\"confirm\""), "{text}");
    assert!(text.contains(&format!("https://approvals.example.com/ui/approvals/{id}")));

    let now = warden_approval_service::unix_now();
    assert_eq!(send(&app, click(&base, "U_BOB", "approve", &id, SIGNING_SECRET, now)).await, StatusCode::OK);
    let answers = ephemeral(&fake, 1).await;
    assert!(answers[0].starts_with(&format!("You approved {id}")), "{answers:?}");
    let approval = app.store.get(&id).await.unwrap().unwrap();
    assert_eq!(approval.votes.len(), 1);
    assert_eq!(approval.votes[0].subject, "bob");
    let events = app.store.events(0, 100).await.unwrap();
    assert_eq!(events.iter().find(|e| e.kind == EventKind::Voted).unwrap().detail["channel"], "slack");

    run_once(&app, &app.channels, warden_approval_service::unix_now()).await.unwrap();
    let calls = fake.calls.lock().unwrap().clone();
    let (method, updated) = calls.last().unwrap();
    assert_eq!(method, "chat.update");
    assert_eq!((updated["channel"].as_str(), updated["ts"].as_str()), (Some("C0OPS"), Some("1700000000.000100")));
    assert!(!updated["blocks"].to_string().contains("\"action_id\":\"approve\""), "no buttons once decided");

    // The same payload delivered again decides nothing more, and says so.
    assert_eq!(send(&app, click(&base, "U_BOB", "approve", &id, SIGNING_SECRET, now)).await, StatusCode::OK);
    let answers = ephemeral(&fake, 2).await;
    assert!(answers[1].starts_with("Not recorded"), "{answers:?}");
    assert_eq!(app.store.get(&id).await.unwrap().unwrap().votes.len(), 1);
}

#[tokio::test]
async fn forged_old_unknown_and_self_approving_clicks_are_refused_and_recorded_on_sqlite() {
    forged_old_unknown_and_self_approving_clicks_are_refused_and_recorded(false).await;
}

#[tokio::test]
async fn forged_old_unknown_and_self_approving_clicks_are_refused_and_recorded_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    forged_old_unknown_and_self_approving_clicks_are_refused_and_recorded(true).await;
}

async fn forged_old_unknown_and_self_approving_clicks_are_refused_and_recorded(postgres: bool) {
    let fake = Arc::new(FakeSlack::default());
    let base = fake_slack(fake.clone()).await;
    let dir = Dir::new();
    let app = service(&dir, &base, &database(&dir, postgres).await).await;
    let id = create(&app).await;
    let now = warden_approval_service::unix_now();
    assert_eq!(
        send(&app, click(&base, "U_BOB", "approve", &id, "not-the-secret", now)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, click(&base, "U_BOB", "approve", &id, SIGNING_SECRET, now - 600)).await,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(send(&app, click(&base, "U_EVE", "approve", &id, SIGNING_SECRET, now)).await, StatusCode::OK);
    let answers = ephemeral(&fake, 1).await;
    assert!(answers[0].contains("does not know your Slack email"), "{answers:?}");
    assert_eq!(send(&app, click(&base, "U_ALICE", "approve", &id, SIGNING_SECRET, now)).await, StatusCode::OK);
    let answers = ephemeral(&fake, 2).await;
    assert!(answers[1].contains("own request"), "{answers:?}");
    // bob's last web sign-in was delegated (a token for bob with an `act` claim, as an agent
    // holding one would sign in): his Slack clicks no longer count as bob's own.
    let delegated_bob = Approver {
        subject: "bob".into(),
        issuer: "https://idp.example".into(),
        kind: SubjectKind::Human,
        delegated: true,
        groups: vec!["dba".into()],
    };
    app.store.remember_person(&delegated_bob, "bob@example.com", now).await.unwrap();
    assert_eq!(send(&app, click(&base, "U_BOB", "approve", &id, SIGNING_SECRET, now)).await, StatusCode::OK);
    let answers = ephemeral(&fake, 3).await;
    assert!(answers[2].contains("delegated"), "{answers:?}");

    assert!(app.store.get(&id).await.unwrap().unwrap().votes.is_empty());
    let events = app.store.events(0, 100).await.unwrap();
    let refused: Vec<&Value> = events.iter().filter(|e| e.kind == EventKind::VoteRefused).map(|e| &e.detail).collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(refused[0]["reason"], "unknown_user");
    assert_eq!(refused[0]["slack_user"], "U_EVE");
    assert!(refused[1]["reason"].as_str().unwrap().contains("own request"));
    assert!(!events.iter().any(|e| e.detail.to_string().contains(BOT_TOKEN)));
}
