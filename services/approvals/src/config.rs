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
    /// The approvers' web pages (`/ui`), with OpenID Connect login. Default: none (no pages).
    #[serde(default)]
    pub web: Option<WebConfig>,
    /// Where people hear about approvals: webhooks and Teams. Default: none.
    #[serde(default)]
    pub channels: ChannelsConfig,
    /// The body preview approvers see (masked before it is stored). Default: every built-in
    /// detector, 4096 bytes shown.
    #[serde(default)]
    pub preview: PreviewConfig,
}

/// The preview's section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewConfig {
    /// Most bytes of masked body kept and shown. Default 4096.
    #[serde(default)]
    pub max_bytes: Option<usize>,
    /// The masking profile, in the mask stage's shape (`detectors`, `custom`, `strategies`,
    /// `paths`, ...). Default: every built-in detector, placeholders.
    #[serde(default)]
    pub profile: Option<warden_mask::config::ProfileConfig>,
}

/// The channels' section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Signed webhooks (Standard Webhooks).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Microsoft Teams Workflows webhooks (Adaptive Cards).
    #[serde(default)]
    pub teams: Vec<TeamsConfig>,
    /// Slack apps (Block Kit messages with Approve/Deny; interactivity at `/slack/interactions`).
    #[serde(default)]
    pub slack: Vec<SlackConfig>,
    /// Attempts per delivery before giving up (with a `delivery_failed` event). Default 8.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Timeout of each attempt, milliseconds. Default 5000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// One webhook endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Name (unique among channels; in the outbox and the approval history).
    pub name: String,
    /// Where events are POSTed.
    pub url: String,
    /// File holding the signing secret (`whsec_<base64>`, as Standard Webhooks gives them).
    pub secret_file: PathBuf,
    /// Events sent. Default: all of `approval.created`, `approval.decided`,
    /// `approval.expired`, `approval.consumed`.
    #[serde(default)]
    pub events: Vec<String>,
}

/// One Teams channel, through a Workflows webhook ("When a Teams webhook request is received").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// Name (unique among channels).
    pub name: String,
    /// File holding the workflow's URL (it carries a signature: treat it as a secret).
    pub url_file: PathBuf,
    /// Events sent. Default: `approval.created` and `approval.decided`.
    #[serde(default)]
    pub events: Vec<String>,
}

/// One Slack channel, through a Slack app's bot (scopes `chat:write`, `users:read`,
/// `users:read.email`; interactivity URL `<public_url>/slack/interactions`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Name (unique among channels).
    pub name: String,
    /// Channel id messages are posted to (`C0123456789`).
    pub channel: String,
    /// File holding the bot token (`xoxb-...`).
    pub bot_token_file: PathBuf,
    /// File holding the app's signing secret (verifies interactivity requests).
    pub signing_secret_file: PathBuf,
    /// Web API base URL. Default `https://slack.com/api`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Where `response_url`s must point (ephemeral answers go there). Default
    /// `https://hooks.slack.com/`.
    #[serde(default)]
    pub response_url_prefix: Option<String>,
    /// Events that post or update the message. Default: all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A compiled channel (its secret file is read at start).
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    /// Name.
    pub name: String,
    /// Where it is in the configuration (`channels.teams[0]`), for errors.
    pub field: String,
    /// Kind and target.
    pub kind: ChannelKind,
    /// Events it takes.
    pub events: Vec<String>,
}

/// Where a channel sends.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// A signed webhook.
    Webhook {
        /// URL.
        url: String,
        /// Secret file.
        secret_file: PathBuf,
    },
    /// A Teams Workflows webhook.
    Teams {
        /// File with the URL.
        url_file: PathBuf,
    },
    /// A Slack channel.
    Slack {
        /// Channel id.
        channel: String,
        /// Bot token file.
        bot_token_file: PathBuf,
        /// Signing secret file.
        signing_secret_file: PathBuf,
        /// Web API base URL.
        api_url: String,
        /// Allowed `response_url` prefix.
        response_url_prefix: String,
    },
}

/// The compiled channels' section.
#[derive(Debug, Clone, Default)]
pub struct ChannelsSection {
    /// Channels.
    pub channels: Vec<ChannelSpec>,
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// Timeout per attempt.
    pub timeout: std::time::Duration,
}

fn compile_channels(config: ChannelsConfig) -> Result<ChannelsSection, ConfigError> {
    let mut channels: Vec<ChannelSpec> = Vec::new();
    let mut add = |field: String, name: &str, kind: ChannelKind, events: Vec<String>, default: &[&str]| {
        if name.is_empty() || channels.iter().any(|c| c.name == name) {
            return Err(ConfigError::new(format!("{field}.name"), "a unique, non-empty name"));
        }
        let events = if events.is_empty() { default.iter().map(|e| e.to_string()).collect() } else { events };
        for (j, e) in events.iter().enumerate() {
            if !crate::channels::notice::EVENT_TYPES.contains(&e.as_str()) {
                return Err(ConfigError::new(
                    format!("{field}.events[{j}]"),
                    format!("one of {}", crate::channels::notice::EVENT_TYPES.join(", ")),
                ));
            }
        }
        channels.push(ChannelSpec { name: name.to_string(), field, kind, events });
        Ok(())
    };
    for (i, w) in config.webhooks.into_iter().enumerate() {
        if !w.url.starts_with("https://") && !w.url.starts_with("http://") {
            return Err(ConfigError::new(format!("channels.webhooks[{i}].url"), "an http(s) URL"));
        }
        let kind = ChannelKind::Webhook { url: w.url, secret_file: w.secret_file };
        add(format!("channels.webhooks[{i}]"), &w.name, kind, w.events, &crate::channels::notice::EVENT_TYPES)?;
    }
    for (i, t) in config.teams.into_iter().enumerate() {
        let kind = ChannelKind::Teams { url_file: t.url_file };
        add(format!("channels.teams[{i}]"), &t.name, kind, t.events, &["approval.created", "approval.decided"])?;
    }
    for (i, c) in config.slack.into_iter().enumerate() {
        if c.channel.is_empty() {
            return Err(ConfigError::new(format!("channels.slack[{i}].channel"), "a channel id, e.g. C0123456789"));
        }
        let api_url = c.api_url.unwrap_or_else(|| "https://slack.com/api".into());
        let response_url_prefix = c.response_url_prefix.unwrap_or_else(|| "https://hooks.slack.com/".into());
        for (field, url) in [("api_url", &api_url), ("response_url_prefix", &response_url_prefix)] {
            if !url.starts_with("https://") && !url.starts_with("http://") {
                return Err(ConfigError::new(format!("channels.slack[{i}].{field}"), "an http(s) URL"));
            }
        }
        let kind = ChannelKind::Slack {
            channel: c.channel,
            bot_token_file: c.bot_token_file,
            signing_secret_file: c.signing_secret_file,
            api_url,
            response_url_prefix,
        };
        add(format!("channels.slack[{i}]"), &c.name, kind, c.events, &crate::channels::notice::EVENT_TYPES)?;
    }
    let max_attempts = match config.max_attempts {
        Some(0) => return Err(ConfigError::new("channels.max_attempts", "must be at least 1")),
        other => other.unwrap_or(8),
    };
    let timeout_ms = match config.timeout_ms {
        Some(0) => return Err(ConfigError::new("channels.timeout_ms", "must be at least 1")),
        other => other.unwrap_or(5000),
    };
    Ok(ChannelsSection { channels, max_attempts, timeout: std::time::Duration::from_millis(timeout_ms) })
}

/// The web pages' section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// The OpenID Connect client people log in with.
    pub oidc: OidcConfig,
    /// 32-byte key the session cookies are signed with, created (mode 0600) when absent;
    /// replicas share it. Default `warden-data/web-session.key`.
    #[serde(default)]
    pub session_key_file: Option<PathBuf>,
    /// How long a login lasts, seconds. Default 28800 (8 hours).
    #[serde(default)]
    pub session_ttl_secs: Option<u64>,
    /// Step-up for every decision made on the pages: a login older than this many seconds
    /// must sign in again first. Default: none.
    #[serde(default)]
    pub max_auth_age_secs: Option<u64>,
}

/// An OpenID Connect client (authorization code flow with PKCE).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer; one of `approvers.providers` must have it, with `client_id`
    /// among its `audiences` (that provider's keys verify the ID tokens).
    pub issuer: String,
    /// Our client id.
    pub client_id: String,
    /// File holding the client secret (whitespace trimmed). Required.
    pub client_secret_file: PathBuf,
    /// Discovery document URL. Default `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Scopes asked for. Default `[openid, profile, email]`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Timeout of each call to the provider, milliseconds. Default 5000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The compiled web section (secrets are read at start, see `crate::web::WebApp`).
#[derive(Debug, Clone)]
pub struct Web {
    /// Issuer.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret file.
    pub client_secret_file: PathBuf,
    /// Discovery URL.
    pub discovery_url: String,
    /// Scopes (`openid` included).
    pub scopes: Vec<String>,
    /// Provider call timeout.
    pub timeout: std::time::Duration,
    /// Session key file.
    pub session_key_file: PathBuf,
    /// Session lifetime, seconds.
    pub session_ttl_secs: u64,
    /// Step-up bound, seconds.
    pub max_auth_age_secs: Option<u64>,
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
    /// The web pages, when configured.
    pub web: Option<Web>,
    /// People's channels (webhooks, Teams).
    pub channels: ChannelsSection,
    /// The body preview's masking.
    pub preview: crate::preview::Preview,
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
            if p.kind_rules.is_empty() && p.default_kind.is_none() {
                // Without rules every token of the issuer would count as a person's, an
                // agent's own token included: that must be said, not defaulted.
                return Err(ConfigError::new(
                    format!("approvers.providers[{i}].kind_rules"),
                    "say how an agent's or a service's token is told from a person's (kind_rules), or set \
                     default_kind: human to count every token of this issuer as a person's",
                ));
            }
            if let Some(uri) = &p.jwks_uri {
                if !self.approvers.clusters.contains_key(&uri.cluster) {
                    return Err(ConfigError::new(
                        format!("approvers.providers[{i}].jwks_uri.cluster"),
                        "name a cluster listed under approvers.clusters (its base URL)",
                    ));
                }
            }
        }
        let web = self.web.map(|w| compile_web(w, &self.approvers.providers)).transpose()?;
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
            web,
            channels: compile_channels(self.channels)?,
            preview: crate::preview::Preview::compile(self.preview.profile, self.preview.max_bytes)?,
        })
    }
}

fn compile_web(web: WebConfig, providers: &[ProviderConfig]) -> Result<Web, ConfigError> {
    let oidc = web.oidc;
    let provider = providers.iter().find(|p| p.issuer == oidc.issuer).ok_or_else(|| {
        ConfigError::new("web.oidc.issuer", "add this issuer to approvers.providers (its keys verify the ID tokens)")
    })?;
    if oidc.client_id.is_empty() || !provider.audiences.contains(&oidc.client_id) {
        return Err(ConfigError::new(
            "web.oidc.client_id",
            format!("a non-empty client id listed in the audiences of approvers provider `{}`", provider.name),
        ));
    }
    if !oidc.issuer.starts_with("https://") && !oidc.issuer.starts_with("http://") {
        return Err(ConfigError::new("web.oidc.issuer", "an http(s) URL"));
    }
    let mut scopes =
        if oidc.scopes.is_empty() { vec!["openid".to_string(), "profile".into(), "email".into()] } else { oidc.scopes };
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let positive = |value: Option<u64>, default: u64, field: &str| match value {
        Some(0) => Err(ConfigError::new(format!("web.{field}"), "must be at least 1")),
        other => Ok(other.unwrap_or(default)),
    };
    Ok(Web {
        discovery_url: oidc
            .discovery_url
            .unwrap_or_else(|| format!("{}/.well-known/openid-configuration", oidc.issuer.trim_end_matches('/'))),
        issuer: oidc.issuer,
        client_id: oidc.client_id,
        client_secret_file: oidc.client_secret_file,
        scopes,
        timeout: std::time::Duration::from_millis(positive(oidc.timeout_ms, 5000, "oidc.timeout_ms")?),
        session_key_file: web.session_key_file.unwrap_or_else(|| "warden-data/web-session.key".into()),
        session_ttl_secs: positive(web.session_ttl_secs, 28_800, "session_ttl_secs")?,
        max_auth_age_secs: web.max_auth_age_secs,
    })
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
    Ok(Signer::from_seed(warden_service_shared::secrets::seed_file(path, "signing_key_file")?))
}
