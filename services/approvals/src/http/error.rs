//! API errors: an HTTP status and a stable code, answered as `{"error": {"code", "message"}}`.
//! Messages never contain tokens, headers or request bodies.

use crate::core::decide::DecideError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`invalid_request`, `database_unavailable`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400 `invalid_request` about `field`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        let message = if field.is_empty() { message.to_string() } else { format!("{field}: {message}") };
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found` (also for approvals the caller may not see).
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such approval")
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::Unavailable(e) => {
                eprintln!("warden approvals: database unavailable: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; nothing was changed",
                )
            }
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Decide(e) => e.into(),
            StoreError::Corrupt(..) | StoreError::Sign(_) => {
                eprintln!("warden approvals: {err}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; nothing was changed")
            }
        }
    }
}

impl From<DecideError> for ApiError {
    fn from(err: DecideError) -> ApiError {
        let (status, code) = match err {
            DecideError::NotPending(_) => (StatusCode::CONFLICT, "not_pending"),
            DecideError::Ineligible(_) => (StatusCode::FORBIDDEN, "not_eligible"),
            DecideError::AlreadyVoted => (StatusCode::CONFLICT, "already_decided"),
            DecideError::ReasonRequired => (StatusCode::BAD_REQUEST, "reason_required"),
            DecideError::StepUpRequired(_) => (StatusCode::FORBIDDEN, "step_up_required"),
        };
        ApiError::new(status, code, err.to_string())
    }
}
