//! API errors: an HTTP status and a stable code, answered as `{"error": {"code", "message"}}`.
//! Messages never contain tokens, headers or request bodies.

use crate::core::decide::DecideError;
use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use warden_kit::approval_api::{ErrorBody, ErrorCode};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    /// 400 `invalid_request` about `field`.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        let message = if field.is_empty() { message.to_string() } else { format!("{field}: {message}") };
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    /// 404 `not_found` (also for approvals the caller may not see).
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such approval")
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::Unavailable(e) => {
                eprintln!("warden approvals: database unavailable: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::DatabaseUnavailable,
                    "the database is unavailable; nothing was changed",
                )
            }
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Decide(e) => e.into(),
            StoreError::Corrupt(..) | StoreError::Sign(_) => {
                eprintln!("warden approvals: {err}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "internal error; nothing was changed",
                )
            }
        }
    }
}

impl From<DecideError> for ApiError {
    fn from(err: DecideError) -> ApiError {
        let (status, code) = match err {
            DecideError::NotPending(_) => (StatusCode::CONFLICT, ErrorCode::NotPending),
            DecideError::Ineligible(_) => (StatusCode::FORBIDDEN, ErrorCode::NotEligible),
            DecideError::AlreadyVoted => (StatusCode::CONFLICT, ErrorCode::AlreadyDecided),
            DecideError::ReasonRequired => (StatusCode::BAD_REQUEST, ErrorCode::ReasonRequired),
            DecideError::StepUpRequired(_) => (StatusCode::FORBIDDEN, ErrorCode::StepUpRequired),
        };
        ApiError::new(status, code, err.to_string())
    }
}
