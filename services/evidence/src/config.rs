//! The ledger's configuration: the `evidence` section of `warden serve`'s file, validated once
//! at start; errors name the field.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use warden_kit::ConfigError;

/// The `evidence` section as written. Every field has a default: `warden serve` runs the
/// ledger with no configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Run the ledger. Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The log's name in its checkpoints and key (`<host>/<path>` style, no spaces or `+`).
    /// Default `warden.local/evidence`.
    #[serde(default)]
    pub origin: Option<String>,
    /// Ed25519 seed file (32 raw bytes) of the checkpoint key, created 0600 when absent.
    /// Default `warden-data/evidence-signing.key`.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// People in this group may export evidence and read proofs. Default `auditors`.
    #[serde(default)]
    pub auditors_group: Option<String>,
    /// How often a new checkpoint is signed when the log grew, and approval events are
    /// taken in, milliseconds. Default 1000.
    #[serde(default)]
    pub checkpoint_period_ms: Option<u64>,
    /// Witnesses asked to cosign every new checkpoint (C2SP `tlog-witness`). Default: none.
    #[serde(default)]
    pub witnesses: Vec<WitnessConfig>,
}

/// One witness.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Base URL; `/add-checkpoint` is appended.
    pub url: String,
    /// Its verifier key (`<name>+<id>+<base64(0x04 || key)>`); cosignatures that do not
    /// verify with it are not stored.
    pub key: String,
}

/// The validated ledger configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Log origin.
    pub origin: String,
    /// Seed file.
    pub signing_key_file: PathBuf,
    /// Auditors' group.
    pub auditors_group: String,
    /// Checkpoint period.
    pub checkpoint_period: Duration,
    /// Witnesses.
    pub witnesses: Vec<WitnessConfig>,
}

impl EvidenceConfig {
    /// Validates; `None` when the ledger is disabled.
    pub fn compile(self) -> Result<Option<Ledger>, ConfigError> {
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let origin = self.origin.unwrap_or_else(|| "warden.local/evidence".into());
        crate::core::keys::check_name(&origin).map_err(|_| {
            ConfigError::new("origin", "a log name without spaces or '+', e.g. warden.example.com/evidence")
        })?;
        let auditors_group = self.auditors_group.unwrap_or_else(|| "auditors".into());
        if auditors_group.is_empty() {
            return Err(ConfigError::new("auditors_group", "a group name"));
        }
        let period = self.checkpoint_period_ms.unwrap_or(1000);
        if !(100..=3_600_000).contains(&period) {
            return Err(ConfigError::new("checkpoint_period_ms", "between 100 and 3600000"));
        }
        for (i, w) in self.witnesses.iter().enumerate() {
            if !w.url.starts_with("http://") && !w.url.starts_with("https://") {
                return Err(ConfigError::new(format!("witnesses[{i}].url"), "an http:// or https:// URL"));
            }
            crate::core::cosign::WitnessVerifier::new(&w.key)
                .map_err(|e| ConfigError::new(format!("witnesses[{i}].key"), e.to_string()))?;
        }
        Ok(Some(Ledger {
            witnesses: self.witnesses,
            origin,
            signing_key_file: self.signing_key_file.unwrap_or_else(|| "warden-data/evidence-signing.key".into()),
            auditors_group,
            checkpoint_period: Duration::from_millis(period),
        }))
    }
}
