//! The HTTP adapter: axum routes over the store and the core. JSON under `/v1`; errors are
//! `{"error": {"code", "message"}}` with stable codes (see `openapi.json`).

pub mod error;
pub mod extract;
pub mod handlers;

use crate::config::Service;
use crate::store::{DecisionRules, Store};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The OpenAPI 3.1 document served at `/v1/openapi.json` (checked against the routes by tests).
pub const OPENAPI: &str = include_str!("openapi.json");

/// What every request handler shares.
pub struct App {
    /// Validated configuration.
    pub service: Service,
    /// Storage.
    pub store: Store,
    /// Signing key and break-glass group.
    pub rules: DecisionRules,
    /// The approvers' web pages, when configured.
    pub web: Option<crate::web::WebApp>,
    /// People's channels with their secrets (webhooks, Teams).
    pub channels: crate::channels::ChannelsApp,
}

/// Every route (method, path as in `openapi.json`); tests check the document and the router
/// agree.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/keys"),
    ("post", "/v1/approvals"),
    ("get", "/v1/approvals"),
    ("get", "/v1/approvals/{id}"),
    ("post", "/v1/approvals/{id}/approve"),
    ("post", "/v1/approvals/{id}/deny"),
    ("post", "/v1/approvals/{id}/force"),
    ("post", "/v1/approvals/{id}/consume"),
    ("post", "/v1/approvals/{id}/cancel"),
    ("get", "/v1/events"),
    ("get", "/metrics"),
];

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(handlers::health))
        .route("/v1/openapi.json", get(handlers::openapi))
        .route("/v1/keys", get(handlers::keys))
        .route("/v1/approvals", post(handlers::create).get(handlers::list))
        .route("/v1/approvals/{id}", get(handlers::get))
        .route("/v1/approvals/{id}/approve", post(handlers::approve))
        .route("/v1/approvals/{id}/deny", post(handlers::deny))
        .route("/v1/approvals/{id}/force", post(handlers::force))
        .route("/v1/approvals/{id}/consume", post(handlers::consume))
        .route("/v1/approvals/{id}/cancel", post(handlers::cancel))
        .route("/v1/events", get(handlers::events))
        .route("/metrics", get(handlers::metrics))
        .route("/slack/interactions", post(crate::channels::interactions::slack))
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .with_state(app)
}
