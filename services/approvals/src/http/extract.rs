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

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let app = app.clone();
        // Verifying may fetch a provider's key set (blocking I/O): off the runtime's threads.
        tokio::task::spawn_blocking(move || authenticate(&app.service, header.as_deref(), crate::unix_now()))
            .await
            .map_err(|_| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "authentication did not finish")
            })?
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", e.0))
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
                "body_too_large",
                format!("the body is over {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::invalid("", "the body could not be read")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("", "a JSON object is required"));
    }
    warden_kit::config::parse(&bytes).map_err(|e| ApiError::invalid(&e.field, e.message))
}
