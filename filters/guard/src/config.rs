//! Guard configuration as written by users.

use serde::Deserialize;
use warden_kit::FailureMode;

/// Plugin configuration of the guard stage. Every field is optional; `{}` is a guard that
/// does nothing.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Request headers removed before any other stage or the upstream sees them: exact
    /// lowercase names, or prefixes ending in `*` (e.g. `x-warden-*`). Default: none.
    #[serde(default)]
    pub strip_request_headers: Vec<String>,
    /// Methods allowed; others get 405 with an `allow` header. Default: all methods.
    #[serde(default)]
    pub allowed_methods: Vec<String>,
    /// Headers every request must carry; a missing one gets 400. Default: none.
    #[serde(default)]
    pub required_headers: Vec<String>,
    /// Largest request body accepted, at most 1048576 (Envoy's buffer limit). A declared
    /// `content-length` over it gets 413 at once; other bodies are buffered and checked.
    /// Default: no limit (bodies stream through unbuffered).
    #[serde(default)]
    pub max_request_body_bytes: Option<usize>,
    /// What to do when a body cannot be checked (over the chain's buffer limit). Default `closed`.
    #[serde(default)]
    pub failure_mode: FailureMode,
}
