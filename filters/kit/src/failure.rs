//! What a stage does when something it depends on fails.

use serde::Deserialize;

/// Behaviour on dependency failure (callout down or timing out, body too large, internal
/// error). Configured per stage as `failure_mode`; the default is [`FailureMode::Closed`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Deny the request (the safe default): a local reply with the stage's failure status.
    #[default]
    Closed,
    /// Let the request through unchanged and log the failure. Use only where availability
    /// matters more than the control the stage provides.
    Open,
}
