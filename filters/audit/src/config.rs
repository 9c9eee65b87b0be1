//! The audit stage's configuration as users write it.

use serde::Deserialize;

/// Audit stage configuration (JSON; unknown fields are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Keep query strings whole in records. Default `false`: only the parameter names are
    /// kept (values can carry tokens or personal data).
    #[serde(default)]
    pub keep_query: bool,
    /// Export each record to filter state (`wasm.warden.audit`, raw canonical JSON) for
    /// Envoy's access loggers. Default `true`.
    #[serde(default)]
    pub filter_state: Option<bool>,
    /// What of the outcome is read from the proxy: `full` (default: status, response code
    /// details and flags, request and response bytes, duration: six properties) or `status`
    /// (the status alone: one property, for the busiest routes; the other fields are left out).
    #[serde(default)]
    pub outcome: Option<OutcomeDetail>,
    /// Send every record to the evidence ledger (`warden serve`) through this Envoy cluster,
    /// in batches (see `filters/audit/README.md`). Default: not sent.
    #[serde(default)]
    pub ledger: Option<crate::ledger::LedgerConfig>,
}

/// How much of a request's outcome a record holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeDetail {
    /// Status, details, flags, bytes and duration.
    #[default]
    Full,
    /// The status only.
    Status,
}
