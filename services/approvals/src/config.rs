//! The service's configuration file (YAML or JSON), validated once at start into an immutable
//! [`Service`]; every error names its field. `warden serve --check` stops after this.

use crate::core::receipt::Signer;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use warden_identity::config::{IdentityConfig, ProviderConfig};
use warden_identity::native::Verifier;
use warden_identity::Identity;
use warden_kit::{ConfigError, StageKind};

/// The configuration as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on. Default `127.0.0.1:8731`.
    #[serde(default)]
    pub listen: Option<String>,
    /// `sqlite://<file>` or `postgres://...`. Default `sqlite://warden-data/approvals.db`.
    #[serde(default)]
    pub database: Option<String>,
    /// Base URL callers reach the service at (for `status_url`). Default `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Ed25519 seed file (32 raw bytes), created with mode 0600 when absent. Default
    /// `warden-data/approvals-signing.key`.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// The proxies allowed to create, wait on and consume approvals.
    #[serde(default)]
    pub proxies: Vec<ProxyConfig>,
    /// How people authenticate: OIDC/JWT providers, the same shape as the identity filter's
    /// `providers`. API keys and client certificates cannot decide.
    #[serde(default)]
    pub approvers: ApproversConfig,
    /// Members of this group may force a decision, with a reason (break-glass). Default: none.
    #[serde(default)]
    pub break_glass_group: Option<String>,
    /// Bounds on what proxies may ask for.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The evidence ledger's section (`warden serve` runs it in the same process); validated
    /// by `warden-evidence`, carried here untouched.
    #[serde(default)]
    pub evidence: Option<serde_json::Value>,
}

/// One proxy (an Envoy, or a fleet sharing a key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Name in the event log (`proxy:<name>`).
    pub name: String,
    /// SHA-256 (64 hex digits) of the bearer key the proxy sends. The key itself is never
    /// stored here.
    pub key_sha256: String,
}

/// People's token providers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproversConfig {
    /// Token issuers: inline `jwks` keys, or `jwks_uri` key sets fetched (and rotated) as the
    /// identity filter does.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// What a `jwks_uri.cluster` name means here (the service has no Envoy clusters): the
    /// base URL (`https://host[:port]`) its `path` is fetched from, with `authority` as the
    /// Host header. Default: none.
    #[serde(default)]
    pub clusters: BTreeMap<String, String>,
}

/// Bounds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest `pending_ttl` a proxy may ask for, seconds. Default 86400.
    #[serde(default)]
    pub max_pending_ttl_secs: Option<u64>,
    /// Longest `use_by` a proxy may ask for, seconds. Default 3600.
    #[serde(default)]
    pub max_use_by_secs: Option<u64>,
    /// Longest long-poll wait, seconds. Default 60.
    #[serde(default)]
    pub max_wait_secs: Option<u64>,
}

/// A compiled proxy credential.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// Name.
    pub name: String,
    /// SHA-256 of its key.
    pub key_sha256: [u8; 32],
}

/// The validated configuration.
pub struct Service {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL.
    pub database: String,
    /// Base URL for `status_url`.
    pub public_url: String,
    /// Signing key file.
    pub signing_key_file: PathBuf,
    /// Proxies.
    pub proxies: Vec<Proxy>,
    /// People's token verification (the identity stage's core, natively, with its token
    /// cache and fetched key sets); `None` when no provider is configured (then nobody can
    /// decide).
    pub approvers: Option<Verifier>,
    /// Base URL of each key-set cluster (see [`ApproversConfig::clusters`]).
    pub clusters: BTreeMap<String, String>,
    /// Break-glass group.
    pub break_glass_group: Option<String>,
    /// Longest pending ttl, seconds.
    pub max_pending_ttl_secs: u64,
    /// Longest use-by, seconds.
    pub max_use_by_secs: u64,
    /// Longest wait, seconds.
    pub max_wait_secs: u64,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("listen", &self.listen).field("proxies", &self.proxies.len()).finish()
    }
}

/// Reads and validates a configuration file (YAML or JSON).
pub fn load(path: &Path) -> Result<ServiceConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
    parse(&text)
}

/// Parses configuration text (YAML or JSON); errors name the field and never echo values.
pub fn parse(text: &str) -> Result<ServiceConfig, ConfigError> {
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        ConfigError::new(
            "",
            format!("not valid YAML: {}", e.location().map_or(String::new(), |l| format!("line {}", l.line()))),
        )
    })?;
    let value = if value.is_null() { serde_json::json!({}) } else { value };
    warden_kit::config::parse(&serde_json::to_vec(&value).unwrap_or_default())
}

impl ServiceConfig {
    /// Validates and compiles; the error names the field.
    pub fn compile(self) -> Result<Service, ConfigError> {
        let listen_text = self.listen.unwrap_or_else(|| "127.0.0.1:8731".into());
        let listen: SocketAddr =
            listen_text.parse().map_err(|_| ConfigError::new("listen", "an address and port, e.g. 127.0.0.1:8731"))?;
        let database = self.database.unwrap_or_else(|| "sqlite://warden-data/approvals.db".into());
        if !["sqlite://", "postgres://", "postgresql://"].iter().any(|p| database.starts_with(p)) {
            return Err(ConfigError::new("database", "use sqlite://<file> or postgres://<user>@<host>/<database>"));
        }
        let public_url = self.public_url.unwrap_or_else(|| format!("http://{listen}"));
        if !public_url.starts_with("http://") && !public_url.starts_with("https://") {
            return Err(ConfigError::new("public_url", "an http:// or https:// URL"));
        }
        let mut proxies = Vec::new();
        for (i, p) in self.proxies.iter().enumerate() {
            if p.name.is_empty() || proxies.iter().any(|q: &Proxy| q.name == p.name) {
                return Err(ConfigError::new(format!("proxies[{i}].name"), "a unique, non-empty name"));
            }
            let key_sha256 = hex32(&p.key_sha256).ok_or_else(|| {
                ConfigError::new(format!("proxies[{i}].key_sha256"), "64 hex digits (sha256 of the key)")
            })?;
            proxies.push(Proxy { name: p.name.clone(), key_sha256 });
        }
        for (name, url) in &self.approvers.clusters {
            let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.contains(['/', '?', '#'])) {
                return Err(ConfigError::new(
                    format!("approvers.clusters.{name}"),
                    "a base URL: https://host[:port] (no path; the provider's jwks_uri.path is added)",
                ));
            }
        }
        for (i, p) in self.approvers.providers.iter().enumerate() {
            if let Some(uri) = &p.jwks_uri {
                if !self.approvers.clusters.contains_key(&uri.cluster) {
                    return Err(ConfigError::new(
                        format!("approvers.providers[{i}].jwks_uri.cluster"),
                        "name a cluster listed under approvers.clusters (its base URL)",
                    ));
                }
            }
        }
        let approvers = if self.approvers.providers.is_empty() {
            None
        } else {
            let identity = IdentityConfig { providers: self.approvers.providers, ..IdentityConfig::default() };
            Some(Verifier::new(Identity::compile(identity).map_err(|e| e.within("approvers"))?))
        };
        if matches!(&self.break_glass_group, Some(g) if g.is_empty()) {
            return Err(ConfigError::new("break_glass_group", "a group name, or leave it out"));
        }
        let limit = |value: Option<u64>, default: u64, field: &str| match value {
            Some(0) => Err(ConfigError::new(format!("limits.{field}"), "must be at least 1")),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        Ok(Service {
            listen,
            database,
            public_url: public_url.trim_end_matches('/').to_string(),
            signing_key_file: self.signing_key_file.unwrap_or_else(|| "warden-data/approvals-signing.key".into()),
            proxies,
            approvers,
            clusters: self.approvers.clusters,
            break_glass_group: self.break_glass_group,
            max_pending_ttl_secs: limit(self.limits.max_pending_ttl_secs, 86_400, "max_pending_ttl_secs")?,
            max_use_by_secs: limit(self.limits.max_use_by_secs, 3_600, "max_use_by_secs")?,
            max_wait_secs: limit(self.limits.max_wait_secs, 60, "max_wait_secs")?,
        })
    }
}

/// Parses 64 hex digits.
pub fn hex32(text: &str) -> Option<[u8; 32]> {
    warden_kit::hex::decode32(text)
}

/// The SHA-256 of a proxy key, as `key_sha256` wants it.
pub fn key_sha256(key: &str) -> String {
    warden_kit::hex::encode(&Sha256::digest(key.as_bytes()))
}

/// The signing key from `path`, created (32 random bytes, mode 0600) when absent.
pub fn signing_key(path: &Path) -> Result<Signer, ConfigError> {
    Ok(Signer::from_seed(seed_file(path, "signing_key_file")?))
}

/// A 32-byte secret seed from `path`, created (random, mode 0600, directories made) when
/// absent. Errors name `field` and the path, never the bytes.
pub fn seed_file(path: &Path, field_name: &str) -> Result<[u8; 32], ConfigError> {
    let field = |m: String| ConfigError::new(field_name, m);
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| field(format!("no randomness for a new key: {e}")))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| field(format!("cannot create {}: {e}", dir.display())))?;
        }
        match write_private(path, &seed) {
            // Another process (a replica starting at the same time) created it first: use it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other.map_err(|e| field(format!("cannot write {}: {e}", path.display())))?,
        }
    }
    let bytes = std::fs::read(path).map_err(|e| field(format!("cannot read {}: {e}", path.display())))?;
    bytes.try_into().map_err(|_| field(format!("{} must hold exactly 32 bytes", path.display())))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
