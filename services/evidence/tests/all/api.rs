//! The ledger's HTTP API as callers meet it: who may do what, and bad input (malformed,
//! non-canonical, oversized, a database gone) answered with a clear error that never echoes
//! what was sent, and nothing half-written.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;
use warden_evidence::core::bundle::policy_version;
use warden_evidence::core::checkpoint::LogSigner;
use warden_evidence::http::{router, App, Caller, MAX_BATCH_BYTES};
use warden_evidence::store::Store;
use warden_testdb::{postgres_url, Dir};

pub(crate) fn app(store: Store) -> Arc<App> {
    Arc::new(App {
        store,
        signer: LogSigner::new("warden.test/evidence", [3; 32]).unwrap(),
        witness_keys: Vec::new(),
        auditors_group: "auditors".into(),
        authenticate: Arc::new(|header| match header {
            Some("Bearer proxy-key") => Ok(Caller::Proxy("envoy".into())),
            Some("Bearer auditor") => Ok(Caller::Person { subject: "erin".into(), groups: vec!["auditors".into()] }),
            Some("Bearer bob") => Ok(Caller::Person { subject: "bob".into(), groups: vec!["dba".into()] }),
            _ => Err("not a proxy key or a person's token".into()),
        }),
    })
}

pub(crate) async fn call(
    app: &Arc<App>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(app.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A sealed audit record, as the audit stage sends it.
pub(crate) fn record(seq: u64) -> String {
    let mut stream = warden_audit::Stream::new(b"api-test");
    let mut line = String::new();
    for _ in 0..=seq {
        let observed = warden_audit::Observed { path: "/orders".into(), status: 200, ..Default::default() };
        let mut r = warden_audit::build(&warden_kit::Facts::default(), &observed, false);
        line = String::from_utf8(stream.seal(&mut r).unwrap()).unwrap();
    }
    line
}

#[tokio::test]
async fn only_proxies_append_and_bad_batches_are_refused_whole_without_echo() {
    let dir = Dir::new();
    let app = app(Store::connect(&dir.sqlite_url("e.db")).await.unwrap());
    let good = format!("{}\n{}\n", record(0), record(1));
    assert_eq!(call(&app, "POST", "/v1/records", None, good.clone().into_bytes()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, "POST", "/v1/records", Some("bob"), good.clone().into_bytes()).await.0,
        StatusCode::FORBIDDEN
    );

    let malformed = format!("{}\n{{\"v\":1,\"token\":\"s3cret-value\"}}\n", record(0));
    let (status, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), malformed.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("line 2:") && !message.contains("s3cret-value"), "{message}");

    let spaced = record(0).replace("\":", "\": ");
    let (status, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), spaced.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("canonical"), "{body}");

    let huge = vec![b' '; MAX_BATCH_BYTES + 1];
    assert_eq!(call(&app, "POST", "/v1/records", Some("proxy-key"), huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.store.size().await.unwrap(), 0, "nothing of a refused batch was written");

    let (status, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), good.clone().into_bytes()).await;
    assert_eq!((status, body["appended"].as_u64()), (StatusCode::OK, Some(2)));
    let (_, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), good.into_bytes()).await;
    assert_eq!(body["duplicates"].as_u64(), Some(2), "a retried batch is not logged twice");
}

#[tokio::test]
async fn policies_are_stored_by_their_hash_and_evidence_is_for_auditors() {
    let dir = Dir::new();
    let app = app(Store::connect(&dir.sqlite_url("e.db")).await.unwrap());
    let policy = r#"{"default":"deny","policies":[]}"#;
    let (status, body) = call(&app, "POST", "/v1/policies", Some("proxy-key"), policy.into()).await;
    assert_eq!(
        (status, body["version"].as_str()),
        (StatusCode::CREATED, Some(policy_version(policy.as_bytes()).as_str()))
    );
    let (status, _) =
        call(&app, "POST", "/v1/policies", Some("proxy-key"), br#"{"policies": [], "default": "deny"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only canonical JSON has a version to be stored under");
    assert_eq!(call(&app, "POST", "/v1/policies", Some("auditor"), policy.into()).await.0, StatusCode::FORBIDDEN);

    assert_eq!(call(&app, "GET", "/v1/log/checkpoint", None, Vec::new()).await.0, StatusCode::OK, "public by design");
    assert_eq!(call(&app, "GET", "/v1/log/export", Some("bob"), Vec::new()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, "GET", "/v1/log/export", Some("proxy-key"), Vec::new()).await.0, StatusCode::FORBIDDEN);
    let (status, bundle) = call(&app, "GET", "/v1/log/export", Some("auditor"), Vec::new()).await;
    assert_eq!((status, bundle["format"].as_str()), (StatusCode::OK, Some("warden-evidence-bundle/v1")));
    let (status, _) = call(&app, "GET", "/v1/log/proof?index=abc", Some("auditor"), Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_database_going_away_answers_503() {
    if warden_testdb::postgres_absent() {
        return;
    }
    let url = postgres_url().await;
    let app = app(Store::connect(&url).await.unwrap());
    let name = url.split('?').next().unwrap().rsplit('/').next().unwrap().to_string();
    let admin =
        std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await.unwrap();
    let (status, body) =
        call(&app, "POST", "/v1/records", Some("proxy-key"), format!("{}\n", record(0)).into_bytes()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("database_unavailable"))
    );
    assert_eq!(call(&app, "GET", "/v1/log/checkpoint", None, Vec::new()).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

/// A sealed record on a stream of its own name.
pub(crate) fn record_on(stream_name: &str) -> String {
    let mut r = warden_audit::build(
        &warden_kit::Facts::default(),
        &warden_audit::Observed { path: "/orders".into(), status: 200, ..Default::default() },
        false,
    );
    let mut stream = warden_audit::Stream::new(b"api-test");
    let line = String::from_utf8(stream.seal(&mut r).unwrap()).unwrap();
    let mut value: Value = serde_json::from_str(&line).unwrap();
    value["stream"] = Value::String(stream_name.into());
    String::from_utf8(warden_kit::canonical::from_value(&value).unwrap()).unwrap()
}

async fn bad_text_is_refused_as_input_not_as_an_outage(store: Store) {
    let app = app(store);
    // A NUL in the stream name: PostgreSQL cannot store it in text; 400, not 503.
    for stream in ["a\u{0}b", "line\nbreak"] {
        let (status, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), record_on(stream).into_bytes()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("stream"), "{body}");
    }
    assert_eq!(app.store.size().await.unwrap(), 0, "nothing written");
    let (status, body) = call(&app, "POST", "/v1/records", Some("proxy-key"), record(0).into_bytes()).await;
    assert_eq!((status, body["appended"].as_u64()), (StatusCode::OK, Some(1)), "the database still takes records");
}

#[tokio::test]
async fn bad_text_is_refused_as_input_not_as_an_outage_on_sqlite() {
    let dir = Dir::new();
    bad_text_is_refused_as_input_not_as_an_outage(Store::connect(&dir.sqlite_url("e.db")).await.unwrap()).await;
}

#[tokio::test]
async fn bad_text_is_refused_as_input_not_as_an_outage_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    bad_text_is_refused_as_input_not_as_an_outage(Store::connect(&postgres_url().await).await.unwrap()).await;
}
