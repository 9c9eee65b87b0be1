//! The HTTP API end to end in process (axum router, real SQLite or PostgreSQL storage).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::people::{approvers_yaml, person, token, PROXY_KEY};
use crate::common::tempdir::Dir;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;
use warden_approval_service::config::{key_sha256, parse};
use warden_approval_service::core::receipt::verify;
use warden_approval_service::core::SignedReceipt;
use warden_approval_service::http::{router, App, OPENAPI, ROUTES};

struct Api {
    app: Arc<App>,
    _dir: Dir,
}

async fn api_on(database: Option<String>) -> Api {
    let dir = Dir::new();
    let database = database.unwrap_or_else(|| format!("sqlite://{}", dir.path.join("a.db").display()));
    let yaml = format!(
        "database: {database}\nsigning_key_file: {}\nproxies: [{{name: envoy, key_sha256: {}}}]\nbreak_glass_group: breakglass\n{}",
        dir.path.join("signing.key").display(),
        key_sha256(PROXY_KEY),
        approvers_yaml()
    );
    let service = parse(&yaml).unwrap().compile().unwrap();
    Api { app: warden_approval_service::startup::open(service).await.unwrap(), _dir: dir }
}

impl Api {
    async fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let raw = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, bearer, raw).await
    }

    async fn raw(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<Vec<u8>>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request =
            request.header("content-type", "application/json").body(Body::from(body.unwrap_or_default())).unwrap();
        let response = router(self.app.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn create(&self, digest_byte: char, requester: &str) -> (StatusCode, Value) {
        self.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(create_body(digest_byte, requester))).await
    }
}

fn digest(byte: char) -> String {
    format!("sha256:{}", byte.to_string().repeat(64))
}

fn create_body(digest_byte: char, requester: &str) -> Value {
    json!({
        "digest": digest(digest_byte),
        "requester": {"subject": requester, "issuer": crate::common::people::ISSUER, "kind": "human", "actors": [{"subject": "agent-7", "kind": "agent"}]},
        "action": {"method": "POST", "authority": "db.internal", "path": "/query", "rules": ["destructive-sql"], "policy": "sha256:00"},
        "requirement": {"groups": ["dba"], "min_approvals": 1, "pending_ttl_secs": 600, "use_by_secs": 300}
    })
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_openapi_document_and_the_router_list_the_same_routes() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routed);
    let api = api_on(None).await;
    for (method, path) in ROUTES {
        let (status, _) = api.raw(&method.to_uppercase(), &path.replace("{id}", "apr_x"), None, None).await;
        let public = ["/healthz", "/v1/openapi.json", "/v1/keys"].contains(path);
        let expected = if public { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
        assert_eq!(status, expected, "{method} {path}: every endpoint but the public three authenticates");
    }
    let (_, served) = api.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(served, doc);
}

#[tokio::test]
async fn create_decide_and_consume_once_with_a_verifiable_receipt() {
    let api = api_on(None).await;
    let (status, created) = api.create('a', "alice").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("apr_") && id.len() == 30, "{id}");
    assert_eq!(created["status"], "pending");
    assert!(created["status_url"].as_str().unwrap().ends_with(&format!("/v1/approvals/{id}")));
    let (status, again) = api.create('a', "alice").await;
    assert_eq!((status, again["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "idempotent create");

    let bob = person("bob", &["dba"]);
    let (_, listed) = api.call("GET", "/v1/approvals", Some(&bob), None).await;
    assert_eq!(listed["approvals"].as_array().unwrap().len(), 1);
    let (_, not_for_eve) = api.call("GET", "/v1/approvals", Some(&person("eve", &["sales"])), None).await;
    assert!(not_for_eve["approvals"].as_array().unwrap().is_empty());
    let (status, _) = api.call("GET", &format!("/v1/approvals/{id}"), Some(&person("eve", &["sales"])), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone unrelated cannot read it");

    let approve = format!("/v1/approvals/{id}/approve");
    let (status, body) = api.call("POST", &approve, Some(&person("alice", &["dba"])), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_eligible"), "the requester");
    let (status, body) = api.call("POST", &approve, Some(&person("agent-7", &["dba"])), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_eligible"), "the requester's agent");
    let bot = token("ci-bot", &["dba"], json!({"kind": "agent"}));
    let (status, body) = api.call("POST", &approve, Some(&bot), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_eligible"), "an agent");
    let delegated = token("carol", &["dba"], json!({"act": {"sub": "agent-9"}}));
    let (status, body) = api.call("POST", &approve, Some(&delegated), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_eligible"), "a delegated token");
    let (status, _) = api.call("POST", &approve, Some(PROXY_KEY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a proxy cannot decide");

    let (status, approved) =
        api.call("POST", &approve, Some(&bob), Some(json!({"reason": "checked the ticket"}))).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    let (status, body) = api.call("POST", &approve, Some(&person("carol", &["dba"])), None).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "not_pending"));

    let consume = format!("/v1/approvals/{id}/consume");
    let mine =
        |d: char, sub: &str| json!({"digest": digest(d), "subject": sub, "issuer": crate::common::people::ISSUER});
    let (status, body) = api.call("POST", &consume, Some(PROXY_KEY), Some(mine('b', "alice"))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "approval_mismatch"), "a changed action");
    let (status, body) = api.call("POST", &consume, Some(PROXY_KEY), Some(mine('a', "mallory"))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "approval_mismatch"), "another requester");
    let (status, used) = api.call("POST", &consume, Some(PROXY_KEY), Some(mine('a', "alice"))).await;
    assert_eq!(status, StatusCode::OK, "{used}");
    let receipt: SignedReceipt = serde_json::from_value(used["receipt"].clone()).unwrap();
    let (_, keys) = api.call("GET", "/v1/keys", None, None).await;
    let public = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        keys["keys"][0]["public_key"].as_str().unwrap(),
    )
    .unwrap();
    assert!(verify(&public.try_into().unwrap(), &receipt));
    assert_eq!(receipt.receipt.deciders[0].subject, "bob");
    let (status, body) = api.call("POST", &consume, Some(PROXY_KEY), Some(mine('a', "alice"))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "approval_used"));

    let (_, log) = api.call("GET", "/v1/events", Some(PROXY_KEY), None).await;
    let kinds: Vec<&str> = log["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["created", "voted", "approved", "consume_refused", "consume_refused", "consumed", "consume_refused"]
    );
    assert!(!log.to_string().contains(&bob), "no token in the event log");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let api = api_on(None).await;
    let (status, body) = api.raw("POST", "/v1/approvals", Some(PROXY_KEY), Some(b"{not json".to_vec())).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let mut unknown = create_body('a', "alice");
    unknown["requirement"]["approvers_override"] = json!(true);
    let (status, body) = api.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(unknown)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("approvers_override"), "{body}");
    let mut wrong_type = create_body('a', "alice");
    wrong_type["requirement"]["min_approvals"] = json!("two");
    let (status, body) = api.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(wrong_type)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("requirement.min_approvals"), "{body}");
    let mut bad_digest = create_body('a', "alice");
    bad_digest["digest"] = json!("md5:abc");
    let (status, body) = api.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(bad_digest)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("digest"));
    let mut too_long = create_body('a', "alice");
    too_long["requirement"]["use_by_secs"] = json!(10_000_000);
    let (status, _) = api.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(too_long)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = vec![b' '; 70 * 1024];
    let (status, body) = api.raw("POST", "/v1/approvals", Some(PROXY_KEY), Some(huge)).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    let (status, body) = api.call("GET", "/v1/approvals", Some("wpk_wrong"), None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (_, log) = api.call("GET", "/v1/events", Some(PROXY_KEY), None).await;
    assert!(log["events"].as_array().unwrap().is_empty(), "nothing written by refused requests");
    let (status, _) = api.call("GET", "/v1/approvals/x?wait=600s", Some(PROXY_KEY), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a wait over the limit");
}

#[tokio::test]
async fn a_long_poll_returns_when_a_person_decides() {
    let api = Arc::new(api_on(None).await);
    let (_, created) = api.create('a', "alice").await;
    let id = created["id"].as_str().unwrap().to_string();
    let waiter = {
        let (api, id) = (api.clone(), id.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let (_, body) = api.call("GET", &format!("/v1/approvals/{id}?wait=20s"), Some(PROXY_KEY), None).await;
            (body["status"].as_str().unwrap_or("").to_string(), started.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/approvals/{id}/deny"),
            Some(&person("bob", &["dba"])),
            Some(json!({"reason": "not now"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, waited) = waiter.await.unwrap();
    assert_eq!(status, "denied");
    assert!(waited < std::time::Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn break_glass_decides_alone_marked_forced() {
    let api = api_on(None).await;
    let (_, created) = api.create('a', "alice").await;
    let force = format!("/v1/approvals/{}/force", created["id"].as_str().unwrap());
    let (status, body) =
        api.call("POST", &force, Some(&person("olga", &["breakglass"])), Some(json!({"decision": "approve"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is mandatory: {body}");
    let (status, body) = api
        .call("POST", &force, Some(&person("bob", &["dba"])), Some(json!({"decision": "approve", "reason": "INC-1"})))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "not_eligible"), "not in the break-glass group");
    let (status, body) = api
        .call(
            "POST",
            &force,
            Some(&person("olga", &["breakglass"])),
            Some(json!({"decision": "approve", "reason": "INC-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["status"].as_str(), body["forced"].as_bool()), (Some("approved"), Some(true)));
}

#[tokio::test]
async fn the_database_going_away_answers_503_and_never_approves() {
    if warden_testdb::postgres_absent() {
        return;
    }
    let url = crate::common::postgres_url().await;
    let api = api_on(Some(url.clone())).await;
    let (status, _) = api.create('a', "alice").await;
    assert_eq!(status, StatusCode::CREATED);
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap().to_string();
    let admin =
        std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await.unwrap();
    let (status, body) = api.create('b', "alice").await;
    assert_eq!((status, code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"), "{body}");
    let consume = json!({"digest": digest('a'), "subject": "alice", "issuer": crate::common::people::ISSUER});
    let (status, _) = api.call("POST", "/v1/approvals/apr_x/consume", Some(PROXY_KEY), Some(consume)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = api.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn query_values_never_reach_the_database_the_event_log_or_an_answer() {
    if warden_testdb::postgres_absent() {
        return;
    }
    for database in [None, Some(crate::common::postgres_url().await)] {
        let api = api_on(database).await;
        let mut body = create_body('e', "alice");
        body["action"]["path"] = json!("/mcp?token=s3cret-query-token&id=42&flag");
        let (status, created) = api.call("POST", "/v1/approvals", Some(PROXY_KEY), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["action"]["path"], "/mcp?token=***&id=***&flag");
        let id = created["id"].as_str().unwrap();
        let (_, shown) = api.call("GET", &format!("/v1/approvals/{id}"), Some(&person("bob", &["dba"])), None).await;
        let (_, log) = api.call("GET", "/v1/events", Some(PROXY_KEY), None).await;
        for text in [shown.to_string(), log.to_string()] {
            assert!(!text.contains("s3cret-query-token") && !text.contains("=42"), "{text}");
        }
        let stored = api.app.store.get(id).await.unwrap().unwrap();
        assert_eq!(stored.action.path, "/mcp?token=***&id=***&flag");
    }
}
