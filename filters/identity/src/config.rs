//! Identity configuration as users write it. See `filters/identity/README.md`.

use serde::Deserialize;
use warden_kit::FailureMode;

/// Plugin configuration of the identity stage.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Token issuers (OIDC providers). Tried in order; the first whose token source has a token wins.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Workload identity from the mTLS peer certificate's SPIFFE URI SAN.
    #[serde(default)]
    pub spiffe: Option<SpiffeConfig>,
    /// API keys for agents and scripts (SHA-256 hashes only).
    #[serde(default)]
    pub api_keys: Option<ApiKeysConfig>,
    /// Per-route requirements; the first matching route applies.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Requirement where no route matches. Default `required`.
    #[serde(default)]
    pub default_requirement: Requirement,
    /// Upstream headers carrying the identity (incoming copies are always removed first).
    #[serde(default)]
    pub upstream_headers: UpstreamHeaders,
    /// Behaviour when a dependency fails (key set unavailable). Default `closed` (503).
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Verified tokens remembered per VM (0 disables the cache). Default 1024.
    #[serde(default)]
    pub token_cache_size: Option<usize>,
}

/// Whether a route needs an identity.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// A valid identity or 401.
    #[default]
    Required,
    /// Identity used if valid; anonymous if no credential; an invalid credential is still 401.
    Optional,
    /// No credential checked (health checks).
    Anonymous,
}

/// A route rule.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Exact host (`:authority` without port); any if absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix; any if absent.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Methods; any if empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// What the route needs.
    pub requirement: Requirement,
}

/// Where a token is read from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum TokenSource {
    /// A header; with `prefix` (case-insensitive), e.g. `Bearer `.
    Header {
        /// Header name (lowercase).
        name: String,
        /// Required prefix before the token.
        #[serde(default)]
        prefix: Option<String>,
    },
    /// A cookie.
    Cookie {
        /// Cookie name.
        name: String,
    },
}

impl Default for TokenSource {
    fn default() -> Self {
        TokenSource::Header { name: "authorization".into(), prefix: Some("Bearer ".into()) }
    }
}

/// One token issuer.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name used in logs and facts.
    pub name: String,
    /// Exact `iss`.
    pub issuer: String,
    /// Accepted audiences (one must be in `aud`). Empty: `aud` not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Allowed algorithms; each key must be for one of them.
    pub algorithms: Vec<String>,
    /// Inline JWKS document (`{"keys": [...]}`); `oct` keys allowed here. Give this or `jwks_uri`.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// JWKS fetched from the provider through an Envoy cluster. Give this or `jwks`.
    #[serde(default)]
    pub jwks_uri: Option<JwksUri>,
    /// Algorithm for RSA JWKs without `alg`. Default RS256.
    #[serde(default)]
    pub default_rsa_algorithm: Option<String>,
    /// Where the token is. Default: `authorization: Bearer <token>`.
    #[serde(default)]
    pub from: TokenSource,
    /// Expected `typ` header (e.g. `at+jwt`).
    #[serde(default)]
    pub typ: Option<String>,
    /// Clock skew in seconds. Default 60.
    #[serde(default)]
    pub skew_secs: Option<u64>,
    /// Largest token in bytes. Default 8192.
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    /// Claims that must be present.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Claim path of the groups/roles (dotted, e.g. `realm_access.roles`). Default `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Claims copied into the identity fact (non-secret), e.g. `tenant`.
    #[serde(default)]
    pub claims: Vec<String>,
    /// How the subject's kind is derived; first match wins.
    #[serde(default)]
    pub kind_rules: Vec<KindRule>,
    /// Kind when no rule matches. Default `human`.
    #[serde(default)]
    pub default_kind: Option<warden_kit::facts::SubjectKind>,
    /// Forward the token upstream (true, default) or remove it.
    #[serde(default = "yes")]
    pub forward_token: bool,
}

fn yes() -> bool {
    true
}

/// Where and how often to fetch a provider's JWKS.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksUri {
    /// Envoy cluster that reaches the provider.
    pub cluster: String,
    /// Host header of the request (the provider's host name).
    pub authority: String,
    /// Path, e.g. `/.well-known/jwks.json`.
    pub path: String,
    /// Key set lifetime before it is fetched again. Default 600 s.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// Callout timeout. Default 2000 ms.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Smallest interval between fetches caused by an unknown `kid`. Default 30 s.
    #[serde(default)]
    pub min_refetch_secs: Option<u64>,
}

/// "If claim `claim` equals `equals` (or contains it, for arrays), the kind is `kind`."
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// Claim path.
    pub claim: String,
    /// Value to match.
    pub equals: String,
    /// Resulting kind.
    pub kind: warden_kit::facts::SubjectKind,
}

/// SPIFFE workload identity from mTLS.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiffeConfig {
    /// Accepted trust domains (`example.org` for `spiffe://example.org/...`).
    pub trust_domains: Vec<String>,
    /// Kind of such callers. Default `service`.
    #[serde(default)]
    pub kind: Option<warden_kit::facts::SubjectKind>,
}

/// API keys.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// Header carrying the key. Default `x-api-key`.
    #[serde(default)]
    pub header: Option<String>,
    /// Known keys.
    pub keys: Vec<ApiKeyConfig>,
}

/// One API key: its SHA-256 (hex) and who it is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Lowercase hex SHA-256 of the key.
    pub sha256: String,
    /// Subject.
    pub subject: String,
    /// Kind. Default `agent`.
    #[serde(default)]
    pub kind: Option<warden_kit::facts::SubjectKind>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Names of upstream identity headers; `null`/absent entries are not sent.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamHeaders {
    /// Subject. Default `x-warden-subject`.
    #[serde(default = "subject_header")]
    pub subject: Option<String>,
    /// Kind. Default `x-warden-kind`.
    #[serde(default = "kind_header")]
    pub kind: Option<String>,
    /// Innermost actor (the agent acting for the subject). Default `x-warden-actor`.
    #[serde(default = "actor_header")]
    pub actor: Option<String>,
    /// Groups, comma-separated. Default `x-warden-groups`.
    #[serde(default = "groups_header")]
    pub groups: Option<String>,
}

fn subject_header() -> Option<String> {
    Some("x-warden-subject".into())
}
fn kind_header() -> Option<String> {
    Some("x-warden-kind".into())
}
fn actor_header() -> Option<String> {
    Some("x-warden-actor".into())
}
fn groups_header() -> Option<String> {
    Some("x-warden-groups".into())
}

impl Default for UpstreamHeaders {
    fn default() -> Self {
        UpstreamHeaders {
            subject: subject_header(),
            kind: kind_header(),
            actor: actor_header(),
            groups: groups_header(),
        }
    }
}
