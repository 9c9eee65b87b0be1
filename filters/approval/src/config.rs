//! The approval stage's configuration as users write it. See `filters/approval/README.md`.

use serde::Deserialize;

/// Plugin configuration of the approval stage.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// The approval service, reached through an Envoy cluster.
    pub service: ServiceConfig,
    /// The service's receipt-signing public key: 32 raw Ed25519 bytes, base64url (as
    /// `GET /v1/keys` shows it). Receipts signed by another key are refused.
    pub receipt_public_key: String,
    /// Longest hold a rule may ask for, ms (default 240000; at most 3600000). A held route's
    /// Envoy `idle_timeout` must be longer (Envoy's default `stream_idle_timeout` is 300 s).
    #[serde(default)]
    pub max_hold_timeout_ms: Option<u64>,
    /// Longest single long-poll wait while holding, seconds (default 25, at most 60).
    #[serde(default)]
    pub poll_secs: Option<u64>,
    /// Bytes of the request body sent with a new approval for the approvers' preview (default
    /// 16384; 0: none). The service masks it with its preview profile before storing or showing
    /// any of it.
    #[serde(default)]
    pub preview_bytes: Option<usize>,
    /// Not offered: this stage always fails closed. Present only to say so when set.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub failure_mode: Option<serde::de::IgnoredAny>,
}

/// Where the approval service is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Envoy cluster of the service.
    pub cluster: String,
    /// `:authority` of callouts (default: the cluster name).
    #[serde(default)]
    pub authority: Option<String>,
    /// The proxy's bearer key at the service (its SHA-256 is in the service's `proxies`).
    /// Never logged.
    pub key: String,
    /// Timeout of each create and consume callout, ms (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}
