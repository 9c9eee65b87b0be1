//! Validates the configuration once into an immutable [`Approval`].

use crate::config::ApprovalConfig;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use std::time::Duration;
use warden_kit::{ConfigError, StageKind};

/// The compiled approval stage.
pub struct Approval {
    /// Envoy cluster of the service.
    pub cluster: String,
    /// `:authority` of callouts.
    pub authority: String,
    /// `authorization` header value for the service (secret: never logged).
    pub(crate) authorization: String,
    /// Create and consume callout timeout.
    pub timeout: Duration,
    /// Receipt-signing public key.
    pub receipt_key: [u8; 32],
    /// Longest hold, ms.
    pub max_hold_timeout_ms: u64,
    /// Longest single long-poll wait, seconds.
    pub poll_secs: u64,
    /// Body bytes sent for the approvers' preview (0: none).
    pub preview_bytes: usize,
}

impl std::fmt::Debug for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approval").field("cluster", &self.cluster).field("authority", &self.authority).finish()
    }
}

/// Default longest hold: under Envoy's default 300 s `stream_idle_timeout`, with margin.
pub const DEFAULT_MAX_HOLD_TIMEOUT_MS: u64 = 240_000;

impl StageKind for Approval {
    const NAME: &'static str = "approval";
    type Config = ApprovalConfig;

    fn compile(config: ApprovalConfig) -> Result<Approval, ConfigError> {
        if config.failure_mode.is_some() {
            return Err(ConfigError::new(
                "failure_mode",
                "not offered for the approval stage: it always fails closed (an approval is never assumed)",
            ));
        }
        let service = &config.service;
        if service.cluster.is_empty() {
            return Err(ConfigError::new("service.cluster", "the Envoy cluster of the approval service"));
        }
        if service.key.trim().is_empty() || service.key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ConfigError::new("service.key", "the proxy's key at the approval service (no spaces)"));
        }
        let timeout_ms = service.timeout_ms.unwrap_or(5_000);
        if timeout_ms == 0 || timeout_ms > 60_000 {
            return Err(ConfigError::new("service.timeout_ms", "between 1 and 60000"));
        }
        let text = config.receipt_public_key.trim();
        let receipt_key: [u8; 32] = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| STANDARD.decode(text))
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                ConfigError::new("receipt_public_key", "32 bytes, base64url (GET /v1/keys at the service)")
            })?;
        let max_hold_timeout_ms = config.max_hold_timeout_ms.unwrap_or(DEFAULT_MAX_HOLD_TIMEOUT_MS);
        if max_hold_timeout_ms == 0 || max_hold_timeout_ms > 3_600_000 {
            return Err(ConfigError::new("max_hold_timeout_ms", "between 1 and 3600000"));
        }
        let poll_secs = config.poll_secs.unwrap_or(25);
        if poll_secs == 0 || poll_secs > 60 {
            return Err(ConfigError::new("poll_secs", "between 1 and 60"));
        }
        Ok(Approval {
            authority: service.authority.clone().unwrap_or_else(|| service.cluster.clone()),
            cluster: service.cluster.clone(),
            authorization: format!("Bearer {}", service.key.trim()),
            timeout: Duration::from_millis(timeout_ms),
            receipt_key,
            max_hold_timeout_ms,
            poll_secs,
            preview_bytes: config.preview_bytes.unwrap_or(16 * 1024).min(64 * 1024),
        })
    }
}
