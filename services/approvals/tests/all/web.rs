//! The web pages in process: login required, sessions that cannot be forged, CSRF on every
//! change, who may decide, step-up, decisions recorded with their channel, and a provider that
//! is down failing closed. (The browser flow through a real OIDC provider and Chromium is in
//! examples/approvals/verify.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use warden_approval_service::core::{EventActor, EventKind};

use crate::common::api;
use crate::common::people::{approvers_yaml, PROXY_KEY};
use crate::common::tempdir::Dir;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use std::sync::Arc;
use tower::ServiceExt;
use warden_approval_service::config::{key_sha256, parse};
use warden_approval_service::http::{router, App};
use warden_approval_service::web::session::{Session, SessionKey, SESSION_COOKIE};
use warden_kit::facts::SubjectKind;

const ISSUER: &str = "https://idp.example";

struct Pages {
    app: Arc<App>,
    key: SessionKey,
    _dir: Dir,
}

fn yaml(dir: &Dir, web: &str) -> String {
    let secret = dir.path.join("client.secret");
    std::fs::write(&secret, "client-secret-for-tests\n").unwrap();
    format!(
        "database: sqlite://{}\nsigning_key_file: {}\nproxies: [{{name: envoy, key_sha256: {}}}]\n{}      audiences: [warden-ui]\nweb:\n  oidc: {{issuer: \"{ISSUER}\", client_id: warden-ui, client_secret_file: {}, discovery_url: \"http://127.0.0.1:9/.well-known/openid-configuration\", timeout_ms: 500}}\n  session_key_file: {}\n{web}",
        dir.path.join("a.db").display(),
        dir.path.join("signing.key").display(),
        key_sha256(PROXY_KEY),
        approvers_yaml(),
        secret.display(),
        dir.path.join("web.key").display(),
    )
}

async fn pages(web: &str) -> Pages {
    pages_on(web, false).await
}

/// The pages on SQLite, or on a fresh PostgreSQL database.
async fn pages_on(web: &str, postgres: bool) -> Pages {
    let dir = Dir::new();
    let mut text = yaml(&dir, web);
    if postgres {
        let sqlite = format!("sqlite://{}", dir.path.join("a.db").display());
        text = text.replace(&sqlite, &crate::common::postgres_url().await);
    }
    let service = parse(&text).unwrap().compile().unwrap();
    let app = warden_approval_service::startup::open(service).await.unwrap();
    let key = SessionKey::new(std::fs::read(dir.path.join("web.key")).unwrap().try_into().unwrap());
    Pages { app, key, _dir: dir }
}

fn session(subject: &str, groups: &[&str], auth_age: u64) -> Session {
    let now = warden_approval_service::unix_now();
    Session {
        sub: subject.into(),
        iss: ISSUER.into(),
        kind: SubjectKind::Human,
        delegated: false,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        auth_time: now - auth_age,
        exp: now + 600,
        sid: format!("sid-{subject}"),
    }
}

struct Answer {
    status: StatusCode,
    location: String,
    body: String,
}

impl Pages {
    async fn call(&self, method: &str, path: &str, cookie: Option<&str>, form: Option<String>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{SESSION_COOKIE}={cookie}"));
        }
        if form.is_some() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        } else if method == "POST" {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Body::from(form.unwrap_or_default())).unwrap();
        let response = router(self.app.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        Answer { status, location, body }
    }

    /// An approval alice asks for, for the `dba` group.
    async fn held_delete(&self) -> String {
        let body = json!({
            "digest": format!("sha256:{}", "a".repeat(64)),
            "requester": {"subject": "alice", "issuer": "api_key", "kind": "human"},
            "action": {"method": "DELETE", "authority": "api", "path": "/customers/42", "rules": ["deletes"],
                       "reasons": ["deletes: a DBA approves <script>alert(1)</script>"]},
            "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 60}
        });
        api::create(&self.app, &body).await
    }
}

#[test]
fn the_web_section_names_what_is_wrong() {
    let dir = Dir::new();
    let wrong_issuer =
        yaml(&dir, "").replace(&format!("issuer: \"{ISSUER}\", client_id"), "issuer: \"https://other\", client_id");
    assert_eq!(parse(&wrong_issuer).unwrap().compile().unwrap_err().field, "web.oidc.issuer");
    let wrong_client = yaml(&dir, "").replace("client_id: warden-ui", "client_id: someone-else");
    assert_eq!(parse(&wrong_client).unwrap().compile().unwrap_err().field, "web.oidc.client_id");
}

#[tokio::test]
async fn pages_ask_for_a_login_and_forged_sessions_are_no_sessions() {
    let pages = pages("").await;
    let answer = pages.call("GET", "/ui", None, None).await;
    assert_eq!((answer.status, answer.location.as_str()), (StatusCode::SEE_OTHER, "/ui/login?next=/ui"));
    let forged = SessionKey::new([1; 32]).seal_session(&session("bob", &["dba"], 0));
    let answer = pages.call("GET", "/ui", Some(&forged), None).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "a session signed with another key is ignored");
    let answer = pages.call("POST", "/ui/approvals/apr_x", None, Some("decision=approve&csrf=x".into())).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_provider_that_is_down_fails_the_login_closed() {
    let pages = pages("").await;
    let answer = pages.call("GET", "/ui/login", None, None).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.body.contains("identity provider is unavailable"), "{}", answer.body);
}

#[tokio::test]
async fn an_approver_decides_on_the_page_with_the_sessions_csrf_token_only_on_sqlite() {
    an_approver_decides_on_the_page_with_the_sessions_csrf_token_only(false).await;
}

#[tokio::test]
async fn an_approver_decides_on_the_page_with_the_sessions_csrf_token_only_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    an_approver_decides_on_the_page_with_the_sessions_csrf_token_only(true).await;
}

async fn an_approver_decides_on_the_page_with_the_sessions_csrf_token_only(postgres: bool) {
    let pages = pages_on("", postgres).await;
    let id = pages.held_delete().await;
    let bob = session("bob", &["dba"], 0);
    let cookie = pages.key.seal_session(&bob);
    let inbox = pages.call("GET", "/ui", Some(&cookie), None).await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.body.contains(&id) && inbox.body.contains("Waiting for you"), "{}", inbox.body);
    let page = pages.call("GET", &format!("/ui/approvals/{id}"), Some(&cookie), None).await;
    assert!(page.body.contains("name=\"decision\" value=\"approve\""), "{}", page.body);
    assert!(page.body.contains("History") && page.body.contains("proxy:envoy"), "the history is shown");
    assert!(!page.body.contains("<script>alert(1)"), "values are escaped: {}", page.body);
    assert!(page.body.contains("&lt;script&gt;"), "{}", page.body);

    let path = format!("/ui/approvals/{id}");
    let forged = pages.call("POST", &path, Some(&cookie), Some("decision=approve&csrf=nope".into())).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let other_sessions_token = pages.key.csrf(&session("mallory", &["dba"], 0));
    let form = format!("decision=approve&csrf={other_sessions_token}");
    assert_eq!(
        pages.call("POST", &format!("/ui/approvals/{id}"), Some(&cookie), Some(form)).await.status,
        StatusCode::FORBIDDEN
    );

    let form = format!("decision=approve&reason=ticket+OPS-9&csrf={}", pages.key.csrf(&bob));
    let done = pages.call("POST", &format!("/ui/approvals/{id}"), Some(&cookie), Some(form)).await;
    assert_eq!((done.status, done.location), (StatusCode::SEE_OTHER, format!("/ui/approvals/{id}")));
    let approval = pages.app.store.get(&id).await.unwrap().unwrap();
    assert_eq!(approval.votes[0].subject, "bob");
    let events = pages.app.store.events(0, 100).await.unwrap();
    let voted = events.iter().find(|e| e.kind == EventKind::Voted).unwrap();
    assert_eq!(
        (voted.detail["channel"].as_str(), &voted.actor),
        (Some("web"), &EventActor::Person { subject: "bob".into() })
    );
    assert!(voted.detail["auth_time"].as_u64().is_some());
}

#[tokio::test]
async fn the_requester_sees_why_they_cannot_decide_and_cannot() {
    let pages = pages("").await;
    let id = pages.held_delete().await;
    let alice = session("alice", &["dba"], 0);
    let cookie = pages.key.seal_session(&alice);
    let page = pages.call("GET", &format!("/ui/approvals/{id}"), Some(&cookie), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("nobody may decide their own request"), "{}", page.body);
    assert!(!page.body.contains("value=\"approve\""));
    let form = format!("decision=approve&csrf={}", pages.key.csrf(&alice));
    let refused = pages.call("POST", &format!("/ui/approvals/{id}"), Some(&cookie), Some(form)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(pages.app.store.get(&id).await.unwrap().unwrap().votes.is_empty());
    // Someone neither involved nor named does not see it at all.
    let eve = pages.key.seal_session(&session("eve", &["sales"], 0));
    assert_eq!(pages.call("GET", &format!("/ui/approvals/{id}"), Some(&eve), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_old_login_must_sign_in_again_before_deciding() {
    let pages = pages("  max_auth_age_secs: 60\n").await;
    let id = pages.held_delete().await;
    let bob = session("bob", &["dba"], 3600);
    let cookie = pages.key.seal_session(&bob);
    let page = pages.call("GET", &format!("/ui/approvals/{id}"), Some(&cookie), None).await;
    assert!(page.body.contains("Sign in again to decide"), "{}", page.body);
    let form = format!("decision=approve&csrf={}", pages.key.csrf(&bob));
    let answer = pages.call("POST", &format!("/ui/approvals/{id}"), Some(&cookie), Some(form)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(answer.location.starts_with("/ui/login?fresh=1"), "{}", answer.location);
    assert!(pages.app.store.get(&id).await.unwrap().unwrap().votes.is_empty());
}

#[tokio::test]
async fn the_body_preview_is_masked_before_anything_is_stored_or_shown() {
    let pages = pages("").await;
    let body = json!({
        "digest": format!("sha256:{}", "d".repeat(64)),
        "requester": {"subject": "alice", "issuer": "api_key", "kind": "human"},
        "action": {"method": "POST", "authority": "tools", "path": "/mcp", "tool": "refund", "rules": ["refunds"],
                   "arguments": ["customer", "card"],
                   "sql": {"classes": ["write"], "tables": ["orders"]},
                   "body": "{\"customer\": \"carol@example.com\", \"card\": \"4111 1111 1111 1111\", \"note\": \"ok\"}",
                   "body_truncated": false},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 60}
    });
    let id = &api::create(&pages.app, &body).await;
    let stored = pages.app.store.get(id).await.unwrap().unwrap();
    let preview = stored.action.body.clone().unwrap();
    assert!(!preview.contains("carol@example.com") && !preview.contains("4111 1111"), "{preview}");
    assert_eq!(stored.action.body_masked.get("email"), Some(&1));
    assert_eq!(stored.action.body_masked.get("payment_card"), Some(&1));
    let events = pages.app.store.events(0, 10).await.unwrap();
    assert!(!serde_json::to_string(&events).unwrap().contains("carol@example.com"), "the event log holds no raw body");

    let cookie = pages.key.seal_session(&session("bob", &["dba"], 0));
    let page = pages.call("GET", &format!("/ui/approvals/{id}"), Some(&cookie), None).await;
    assert!(page.body.contains("Request body (masked)") && page.body.contains("1 email"), "{}", page.body);
    assert!(page.body.contains("customer, card") && page.body.contains("write on orders"), "{}", page.body);
    assert!(!page.body.contains("carol@example.com"));
}

#[tokio::test]
async fn a_rule_asking_for_step_up_takes_only_recent_web_sign_ins() {
    let pages = pages("").await;
    let body = json!({
        "digest": format!("sha256:{}", "e".repeat(64)),
        "requester": {"subject": "alice", "issuer": "api_key", "kind": "human"},
        "action": {"method": "DELETE", "authority": "db", "path": "/prod", "rules": ["prod-deletes"]},
        "requirement": {"groups": ["dba"], "pending_ttl_secs": 600, "use_by_secs": 60, "max_auth_age_secs": 120}
    });
    let id = api::create(&pages.app, &body).await;
    let path = format!("/ui/approvals/{id}");

    // A login an hour old: asked to sign in again, and a posted decision does not count.
    let old = session("bob", &["dba"], 3600);
    let cookie = pages.key.seal_session(&old);
    assert!(pages.call("GET", &path, Some(&cookie), None).await.body.contains("Sign in again to decide"));
    let form = format!("decision=approve&csrf={}", pages.key.csrf(&old));
    let answer = pages.call("POST", &path, Some(&cookie), Some(form)).await;
    assert!(answer.location.starts_with("/ui/login?fresh=1"), "{}", answer.location);

    // The JSON API cannot prove a recent sign-in: refused.
    let token = crate::common::people::token("dave", &["dba"], json!({"aud": "warden-ui"}));
    let path_approve = format!("/v1/approvals/{id}/approve");
    let (status, answer) = api::call(&pages.app, "POST", &path_approve, &token, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"]["code"], "step_up_required");
    assert!(pages.app.store.get(&id).await.unwrap().unwrap().votes.is_empty());

    // A fresh login decides.
    let fresh = session("bob", &["dba"], 5);
    let cookie = pages.key.seal_session(&fresh);
    let form = format!("decision=approve&csrf={}", pages.key.csrf(&fresh));
    assert_eq!(pages.call("POST", &path, Some(&cookie), Some(form)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(pages.app.store.get(&id).await.unwrap().unwrap().votes.len(), 1);
}
