//! Calling the service's router in process with a bearer credential and a JSON body.
#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;
use warden_approval_service::http::{router, App};

/// `method path` with `authorization: Bearer <bearer>` and a JSON body: the status and the
/// answer as JSON (`null` when it is not JSON).
pub async fn call(app: &Arc<App>, method: &str, path: &str, bearer: &str, body: &Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Creates an approval as the test proxy; its id.
pub async fn create(app: &Arc<App>, body: &Value) -> String {
    let (status, answer) = call(app, "POST", "/v1/approvals", super::people::PROXY_KEY, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["id"].as_str().unwrap().to_string()
}

/// The service on `database` (files in `dir`): the test proxy, the test people's provider, and
/// `breakglass` as the break-glass group.
pub async fn service(dir: &super::tempdir::Dir, database: &str) -> Arc<App> {
    let yaml = format!(
        "database: {database}\nsigning_key_file: {}\nproxies: [{{name: envoy, key_sha256: {}}}]\nbreak_glass_group: breakglass\n{}",
        dir.path.join("signing.key").display(),
        warden_approval_service::config::key_sha256(super::people::PROXY_KEY),
        super::people::approvers_yaml()
    );
    warden_approval_service::startup::open(warden_approval_service::config::parse(&yaml).unwrap().compile().unwrap())
        .await
        .unwrap()
}
