//! The ledger's API held to its OpenAPI document, on SQLite and PostgreSQL: the document and
//! the router list the same routes, and every documented constraint is violated in turn and
//! must get the documented status and error code, without writing anything (and without the
//! database being reported down).

use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use warden_evidence::http::{App, MAX_BATCH_BYTES, OPENAPI, ROUTES};
use warden_evidence::store::Store;
use warden_testdb::{postgres_url, Dir};

async fn call(app: &Arc<App>, method: &str, path: &str, bearer: &str, body: Vec<u8>) -> (StatusCode, Value) {
    crate::api::call(app, method, path, Some(bearer), body).await
}

fn record(seq: u64, stream_name: Option<&str>) -> String {
    match stream_name {
        None => crate::api::record(seq),
        Some(name) => crate::api::record_on(name),
    }
}

#[test]
fn the_document_and_the_router_list_the_same_routes() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, routed);
    assert_eq!(
        doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/x-ndjson"]["x-warden-limits"]
            ["maxBytes"]
            .as_u64(),
        Some(MAX_BATCH_BYTES as u64)
    );
}

async fn every_documented_constraint_is_enforced(store: Store) {
    let app = crate::api::app(store);
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let (status, _) = call(&app, "POST", "/v1/records", "proxy-key", record(0, None).into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let size = app.store.size().await.unwrap();
    let too_many = (0..10_001).map(|i| record(i % 2, None)).collect::<Vec<_>>().join("\n");
    let mut trailing = record(0, None);
    trailing.push_str(" x");
    let cases: Vec<(&str, String, Vec<u8>, StatusCode)> = vec![
        ("POST", "/v1/records".into(), b"\xff\xfe".to_vec(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), b"{\"v\":1}".to_vec(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), trailing.into_bytes(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), record(0, None).replace("\":", "\": ").into_bytes(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), record(0, Some("a\u{0}b")).into_bytes(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), record(0, Some("")).into_bytes(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), too_many.into_bytes(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/records".into(), vec![b' '; MAX_BATCH_BYTES + 1], StatusCode::PAYLOAD_TOO_LARGE),
        ("POST", "/v1/policies".into(), br#"{"b":1,"a":2}"#.to_vec(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/policies".into(), br#"{"a":2} x"#.to_vec(), StatusCode::BAD_REQUEST),
        ("POST", "/v1/policies".into(), b"not json".to_vec(), StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/export?from=x".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/export?from=-1".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/export?sample=-1".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", format!("/v1/log/export?from={}", size + 5), vec![], StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/export?unknown=1".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/proof".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", "/v1/log/proof?index=x".into(), vec![], StatusCode::BAD_REQUEST),
        ("GET", format!("/v1/log/proof?index={}", size + 5), vec![], StatusCode::BAD_REQUEST),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in cases {
        let bearer = if method == "GET" { "auditor" } else { "proxy-key" };
        let route = path.split('?').next().unwrap().to_string();
        let documented =
            doc["paths"][route.as_str()][method.to_lowercase()]["responses"][expected.as_str()].is_object();
        let (status, answer) = call(&app, method, &path, bearer, body).await;
        let code = answer["error"]["code"].as_str().unwrap_or("");
        let coded = match expected {
            StatusCode::BAD_REQUEST => code == "invalid_request",
            StatusCode::PAYLOAD_TOO_LARGE => code == "body_too_large",
            _ => true,
        };
        if status != expected || !coded || !documented {
            wrong.push(format!("{method} {path}: {status} {answer} (documented: {documented})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(app.store.size().await.unwrap(), size, "nothing written by a refused request");
    let (status, body) = call(&app, "POST", "/v1/records", "proxy-key", record(1, None).into_bytes()).await;
    assert_eq!((status, body["appended"].as_u64()), (StatusCode::OK, Some(1)), "the database still works");
}

#[tokio::test]
async fn every_documented_constraint_is_enforced_on_sqlite() {
    let dir = Dir::new();
    every_documented_constraint_is_enforced(Store::connect(&dir.sqlite_url("e.db")).await.unwrap()).await;
}

#[tokio::test]
async fn every_documented_constraint_is_enforced_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    every_documented_constraint_is_enforced(Store::connect(&postgres_url().await).await.unwrap()).await;
}
