//! The audit stage's configuration as users write it.

use serde::Deserialize;

/// Audit stage configuration (JSON; unknown fields are refused).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Routes whose requests wait until the ledger acknowledges an intent record, and are
    /// refused (503) when it does not: evidence first, then the action. Needs `ledger`.
    /// Default: none.
    #[serde(default)]
    pub strict: Option<StrictConfig>,
    /// Send every record to the evidence ledger (`warden serve`) through this Envoy cluster,
    /// in batches (see `filters/audit/README.md`). Default: not sent.
    #[serde(default)]
    pub ledger: Option<crate::ledger::LedgerConfig>,
}

/// How much of a request's outcome a record holds.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeDetail {
    /// Status, details, flags, bytes and duration.
    #[default]
    Full,
    /// The status only.
    Status,
}

/// The strict routes: a request is strict when its method is listed (or none are) and its
/// path starts with a listed prefix (or none are); at least one list is given.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrictConfig {
    /// Path prefixes (`/admin/`).
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    /// Methods (`DELETE`).
    #[serde(default)]
    pub methods: Vec<String>,
}

impl StrictConfig {
    /// Whether a request is on a strict route.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && (self.path_prefixes.is_empty() || self.path_prefixes.iter().any(|p| path.starts_with(p.as_str())))
    }
}
