//! Request extractors: the authenticated caller, the caller's address, and JSON bodies whose
//! errors name the field.

use super::error::ApiError;
use super::App;
use crate::auth::{authenticate, Caller};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use warden_kit::approval_api::ErrorCode;

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let app = app.clone();
        // Verifying may fetch a provider's key set (blocking I/O): off the runtime's threads.
        tokio::task::spawn_blocking(move || authenticate(&app.service, header.as_deref(), crate::unix_now()))
            .await
            .map_err(|_| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, "authentication did not finish")
            })?
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, e.0))
    }
}

/// The caller's address (`ip:port`), when the server knows it.
#[derive(Debug, Clone)]
pub struct Source(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Source, Self::Rejection> {
        Ok(Source(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string())))
    }
}

/// Largest request body, bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses a JSON body: 413 when too large, 400 naming the field when malformed, of the wrong
/// type, or with unknown fields.
pub fn json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                format!("the body is over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::invalid("", "the body could not be read")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("", "a JSON object is required"));
    }
    let parsed = warden_kit::config::parse(&bytes).map_err(|e| ApiError::invalid(&e.field, e.message))?;
    // Neither database stores a NUL character in text (PostgreSQL refuses it outright): a
    // string holding one is the caller's error, named, before anything is written.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        if let Some(field) = nul_field(&value, String::new()) {
            return Err(ApiError::invalid(&field, "holds a NUL character"));
        }
    }
    Ok(parsed)
}

/// The path of the first string (or member name) in `value` that holds a NUL character.
fn nul_field(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| nul_field(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join(&key.replace('\0', "\\0")))
            } else {
                nul_field(item, join(key))
            }
        }),
        _ => None,
    }
}

/// The `{id}` of an approval's path: at most 128 characters and no control characters, else
/// 400 naming `id` (an id that is merely unknown is 404, answered by the handler).
#[derive(Debug, Clone)]
pub struct ApprovalId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ApprovalId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApprovalId, ApiError> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid("id", "not a valid path segment"))?;
        if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            return Err(ApiError::invalid("id", "an approval id: 1 to 128 characters, no control characters"));
        }
        Ok(ApprovalId(id))
    }
}

#[cfg(test)]
mod tests {
    use super::nul_field;
    use serde_json::json;

    #[test]
    fn the_first_nul_is_named_by_its_path() {
        let value = json!({"a": "ok", "requester": {"actors": [{"subject": "x"}, {"subject": "y\u{0}"}]}});
        assert_eq!(nul_field(&value, String::new()).as_deref(), Some("requester.actors[1].subject"));
        assert_eq!(nul_field(&json!({"fine": ["a", {"b": 1}]}), String::new()), None);
    }
}
