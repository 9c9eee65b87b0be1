//! The ledger's HTTP adapter (mounted by `warden serve` beside the approval service): proxies
//! append audit records; anyone reads the log's key and newest checkpoint (they are public by
//! design: auditors and witnesses compare them); auditors export bundles and proofs.
//! Errors are `{"error": {"code", "message"}}` and never echo what was sent.

use crate::core::bundle::tlog_proof;
use crate::core::checkpoint::LogSigner;
use crate::core::entry::parse_records;
use crate::export::{export, ExportRequest};
use crate::store::{Store, StoreError};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Largest batch body, bytes.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Who is calling, as the embedding service authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A configured proxy (may append).
    Proxy(String),
    /// A verified person (may export when in the auditors' group).
    Person {
        /// Subject.
        subject: String,
        /// Groups.
        groups: Vec<String>,
    },
}

/// Authenticates an `authorization` header value (blocking: may fetch keys). Supplied by the
/// embedding service so the ledger trusts exactly who the approval service trusts.
pub type Authenticate = Arc<dyn Fn(Option<&str>) -> Result<Caller, String> + Send + Sync>;

/// What every request shares.
pub struct App {
    /// Storage.
    pub store: Store,
    /// Checkpoint signer.
    pub signer: LogSigner,
    /// Witness verifier keys (published with the log key).
    pub witness_keys: Vec<String>,
    /// Group allowed to export.
    pub auditors_group: String,
    /// Authentication.
    pub authenticate: Authenticate,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("origin", &self.signer.origin()).finish_non_exhaustive()
    }
}

/// Every route (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/records"),
    ("post", "/v1/policies"),
    ("get", "/v1/log/key"),
    ("get", "/v1/log/checkpoint"),
    ("get", "/v1/log/export"),
    ("get", "/v1/log/proof"),
    ("get", "/v1/evidence/openapi.json"),
];

/// The OpenAPI 3.1 document of these routes (served at `/v1/evidence/openapi.json`).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/records", post(append))
        .route("/v1/policies", post(put_policy))
        .route("/v1/log/key", get(key))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/export", get(export_bundle))
        .route("/v1/log/proof", get(proof))
        .route("/v1/evidence/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES))
        .with_state(app)
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

fn store_error(err: StoreError) -> Response {
    match err {
        StoreError::Unavailable(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "the database is unavailable")
        }
        StoreError::Conflict { stream, seq } => error(
            StatusCode::CONFLICT,
            "conflicting_record",
            format!("stream {stream} already has a different record {seq}: nothing of this batch was appended"),
        ),
        StoreError::Range(message) => error(StatusCode::BAD_REQUEST, "invalid_request", message),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

async fn caller(app: &Arc<App>, headers: &HeaderMap) -> Result<Caller, Response> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authenticate = app.authenticate.clone();
    tokio::task::spawn_blocking(move || authenticate(value.as_deref()))
        .await
        .map_err(|_| error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "authentication did not finish"))?
        .map_err(|message| error(StatusCode::UNAUTHORIZED, "unauthenticated", message))
}

async fn auditor(app: &Arc<App>, headers: &HeaderMap) -> Result<(), Response> {
    match caller(app, headers).await? {
        Caller::Person { groups, .. } if groups.contains(&app.auditors_group) => Ok(()),
        _ => Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("evidence is for people in the `{}` group", app.auditors_group),
        )),
    }
}

/// The body of a request only proxies may make: 401/403 for other callers (`refusal` says
/// why), 413 over [`MAX_BATCH_BYTES`].
async fn proxy_body(
    app: &Arc<App>,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    refusal: &str,
) -> Result<Bytes, Response> {
    match caller(app, headers).await? {
        Caller::Proxy(_) => {}
        Caller::Person { .. } => return Err(error(StatusCode::FORBIDDEN, "forbidden", refusal)),
    }
    body.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("a request body is at most {MAX_BATCH_BYTES} bytes"),
        )
    })
}

/// `POST /v1/records`: NDJSON of canonical audit records, appended all or nothing.
async fn append(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match proxy_body(&app, &headers, body, "only proxies append records").await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "the body is not UTF-8");
    };
    let entries = match parse_records(text) {
        Ok(entries) => entries,
        Err(err) => return error(StatusCode::BAD_REQUEST, "invalid_request", err.to_string()),
    };
    match app.store.append(&entries, crate::unix_now()).await {
        Ok(done) => {
            Json(json!({"appended": done.appended, "duplicates": done.duplicates, "size": done.size})).into_response()
        }
        Err(err) => store_error(err),
    }
}

/// `POST /v1/policies` (a proxy's key: what deploys policies): a policy set's RFC 8785
/// canonical JSON (`warden policy publish`), stored under its version, the SHA-256 of those
/// bytes, so every decision that names the version can be re-checked later.
async fn put_policy(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match proxy_body(&app, &headers, body, "policies are published with a proxy key").await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let canonical = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| warden_kit::canonical::from_value(&v).ok())
        .is_some_and(|c| c == body.as_ref());
    let Some(text) = std::str::from_utf8(&body).ok().filter(|_| canonical) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be a policy set's RFC 8785 canonical JSON",
        );
    };
    let version = crate::core::bundle::policy_version(text.as_bytes());
    match app.store.put_policy(&version, text, crate::unix_now()).await {
        Ok(()) => (StatusCode::CREATED, Json(json!({"version": version}))).into_response(),
        Err(err) => store_error(err),
    }
}

/// `GET /v1/evidence/openapi.json`: the API's OpenAPI document (public).
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /v1/log/key`: the log's origin and verifier key, and the witnesses' keys.
async fn key(State(app): State<Arc<App>>) -> Response {
    Json(json!({"origin": app.signer.origin(), "log_key": app.signer.vkey(), "witness_keys": app.witness_keys}))
        .into_response()
}

/// `GET /v1/log/checkpoint`: the newest signed checkpoint (text/plain, a C2SP signed note).
async fn checkpoint(State(app): State<Arc<App>>) -> Response {
    match app.store.checkpoint(&app.signer, crate::unix_now()).await {
        Ok(c) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], c.note).into_response(),
        Err(err) => store_error(err),
    }
}

/// Query of an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(default)]
    from: u64,
    #[serde(default)]
    to: Option<u64>,
    #[serde(default)]
    sample: Option<u64>,
}

/// `GET /v1/log/export?from=&to=&sample=`: an offline evidence bundle (auditors).
async fn export_bundle(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(response) = auditor(&app, &headers).await {
        return response;
    }
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "from, to and sample are numbers");
    };
    // A fresh checkpoint first, so the export reaches the newest entries.
    if let Err(err) = app.store.checkpoint(&app.signer, crate::unix_now()).await {
        return store_error(err);
    }
    let request = ExportRequest { from: query.from, to: query.to, sample: query.sample.unwrap_or(16) };
    match export(&app.store, &request, &app.signer.vkey(), &app.witness_keys).await {
        Ok(bundle) => Json(bundle).into_response(),
        Err(err) => store_error(err),
    }
}

/// Query of a proof.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    index: u64,
}

/// `GET /v1/log/proof?index=`: a `tlog-proof@v1` of one entry against the newest checkpoint.
async fn proof(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(response) = auditor(&app, &headers).await {
        return response;
    }
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "index is a number");
    };
    let checkpoint = match app.store.checkpoint(&app.signer, crate::unix_now()).await {
        Ok(c) => c,
        Err(err) => return store_error(err),
    };
    match app.store.inclusion_proof(query.index, checkpoint.size).await {
        Ok(hashes) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], tlog_proof(query.index, &hashes, &checkpoint.note))
                .into_response()
        }
        Err(err) => store_error(err),
    }
}
