//! Validates the configuration once and compiles it into an immutable [`Identity`].

use crate::config::{IdentityConfig, ProviderConfig, Requirement, TokenSource, UpstreamHeaders};
use crate::jwt::{Algorithm, ClaimRules, Jwk, VerifyingKey, DEFAULT_MAX_TOKEN_BYTES};
use warden_kit::facts::SubjectKind;
use warden_kit::{ConfigError, FailureMode, StageKind};

/// A compiled token issuer.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The provider's name, for errors and logs.
    pub name: String,
    /// Issuer, audiences, clock skew and required claims every token must pass.
    pub rules: ClaimRules,
    /// The algorithms a token may be signed with (`alg: none` never is).
    pub allowed: Vec<Algorithm>,
    /// Inline keys, each bound to one algorithm (empty with `remote`).
    pub keys: Vec<VerifyingKey>,
    /// Remote key set settings, when keys are fetched.
    pub remote: Option<Remote>,
    /// Algorithm for RSA JWKs without `alg`.
    pub default_rsa: Algorithm,
    /// Where the token is.
    pub source: TokenSource,
    /// Largest token accepted, bytes; a longer one is refused before it is decoded.
    pub max_token_bytes: usize,
    /// Path of the groups claim.
    pub groups_path: Vec<String>,
    /// Claims copied into the fact.
    pub claims: Vec<String>,
    /// Kind rules: (claim path, value, kind).
    pub kind_rules: Vec<(Vec<String>, String, SubjectKind)>,
    /// Kind when no rule matches.
    pub default_kind: SubjectKind,
    /// Whether the token goes upstream.
    pub forward_token: bool,
}

/// Where a provider's key set is fetched from.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The Envoy cluster the key set is fetched through.
    pub cluster: String,
    /// The `:authority` of the fetch.
    pub authority: String,
    /// The path of the key set (`/.well-known/jwks.json`).
    pub path: String,
    /// Lifetime of a fetched set.
    pub ttl_secs: u64,
    /// How long a fetch may take, ms; a slower one fails (the last good set is kept).
    pub timeout_ms: u64,
    /// Smallest interval between fetches for unknown `kid`s.
    pub min_refetch_secs: u64,
}

/// A compiled API key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// SHA-256 of the key.
    pub sha256: [u8; 32],
    /// The subject a request with this key is for.
    pub subject: String,
    /// Whether the key is a person's, an agent's or a service's.
    pub kind: SubjectKind,
    /// Groups the key's holder is in.
    pub groups: Vec<String>,
}

/// A compiled route rule.
#[derive(Debug, Clone)]
pub struct Route {
    /// The host the route is for (exact); `None`: any host.
    pub host: Option<String>,
    /// The path prefix the route is for; `None`: any path.
    pub prefix: Option<String>,
    /// Methods (empty: any).
    pub methods: Vec<String>,
    /// Whether the route needs an identity: required (the default), optional or anonymous.
    pub requirement: Requirement,
}

/// The compiled identity stage configuration.
#[derive(Debug)]
pub struct Identity {
    /// Token issuers, in order.
    pub providers: Vec<Provider>,
    /// SPIFFE trust domains and the kind of such callers.
    pub spiffe: Option<(Vec<String>, SubjectKind)>,
    /// API key header and keys.
    pub api_keys: Option<(String, Vec<ApiKey>)>,
    /// Route rules, first match wins.
    pub routes: Vec<Route>,
    /// Requirement where no route matches.
    pub default_requirement: Requirement,
    /// Upstream header names.
    pub headers: UpstreamHeaders,
    /// What a failure (e.g. key set unavailable) does: refuse (`closed`, the default) or let through.
    pub failure_mode: FailureMode,
    /// Verified tokens remembered per VM (0: no cache). The cache itself is VM state
    /// ([`crate::vm::IdentityVm`]), not configuration.
    pub token_cache_size: usize,
    /// Upstream identity header names, removed from every incoming request.
    strip: Vec<String>,
}

fn path(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_string).collect()
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn compile_provider(p: &ProviderConfig, field: &str) -> Result<Provider, ConfigError> {
    let err = |sub: &str, message: String| ConfigError::new(format!("{field}.{sub}"), message);
    if p.name.is_empty() {
        return Err(err("name", "must not be empty".into()));
    }
    if p.issuer.is_empty() {
        return Err(err("issuer", "must not be empty (tokens are matched by exact `iss`)".into()));
    }
    if p.algorithms.is_empty() {
        return Err(err("algorithms", "list at least one algorithm".into()));
    }
    let mut allowed = Vec::new();
    for (i, name) in p.algorithms.iter().enumerate() {
        allowed.push(
            Algorithm::parse(name)
                .map_err(|_| err(&format!("algorithms[{i}]"), format!("unknown or forbidden algorithm `{name}`")))?,
        );
    }
    let default_rsa = match &p.default_rsa_algorithm {
        Some(name) => Algorithm::parse(name).map_err(|_| err("default_rsa_algorithm", "unknown algorithm".into()))?,
        None => Algorithm::RS256,
    };
    let mut keys = Vec::new();
    let remote = match (&p.jwks, &p.jwks_uri) {
        (Some(jwks), None) => {
            let keys_json = jwks
                .get("keys")
                .and_then(|k| k.as_array())
                .ok_or_else(|| err("jwks", "expected a JWKS object {\"keys\": [...]}".into()))?;
            for (i, value) in keys_json.iter().enumerate() {
                let key_field = format!("jwks.keys[{i}]");
                let jwk: Jwk =
                    serde_json::from_value(value.clone()).map_err(|_| err(&key_field, "not a JWK".into()))?;
                let key = jwk.to_key(default_rsa, true).map_err(|e| err(&key_field, e.to_string()))?;
                if !allowed.contains(&key.alg) {
                    return Err(err(
                        &key_field,
                        format!("key is for {} which `algorithms` does not list", key.alg.name()),
                    ));
                }
                keys.push(key);
            }
            if keys.is_empty() {
                return Err(err("jwks.keys", "list at least one key".into()));
            }
            None
        }
        (None, Some(uri)) => {
            if uri.cluster.is_empty() || uri.authority.is_empty() {
                return Err(err("jwks_uri", "cluster and authority must not be empty".into()));
            }
            if !uri.path.starts_with('/') {
                return Err(err("jwks_uri.path", "a path starts with /".into()));
            }
            Some(Remote {
                cluster: uri.cluster.clone(),
                authority: uri.authority.clone(),
                path: uri.path.clone(),
                ttl_secs: uri.ttl_secs.unwrap_or(600).max(1),
                timeout_ms: uri.timeout_ms.unwrap_or(2000).clamp(1, 60_000),
                min_refetch_secs: uri.min_refetch_secs.unwrap_or(30),
            })
        }
        _ => return Err(err("jwks", "give exactly one of `jwks` (inline) and `jwks_uri` (fetched)".into())),
    };
    match &p.from {
        TokenSource::Header { name, .. } if !header_name_ok(name) => {
            return Err(err("from.header.name", "not a lowercase header name".into()))
        }
        TokenSource::Cookie { name } if name.is_empty() => {
            return Err(err("from.cookie.name", "must not be empty".into()))
        }
        _ => {}
    }
    let max_token_bytes = p.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
    if max_token_bytes == 0 || max_token_bytes > 64 * 1024 {
        return Err(err("max_token_bytes", "must be between 1 and 65536".into()));
    }
    Ok(Provider {
        name: p.name.clone(),
        rules: ClaimRules {
            issuer: p.issuer.clone(),
            audiences: p.audiences.clone(),
            required: p.required_claims.clone(),
            skew_secs: p.skew_secs.unwrap_or(60),
            typ: p.typ.clone(),
            require_exp: true,
        },
        allowed,
        keys,
        remote,
        default_rsa,
        source: p.from.clone(),
        max_token_bytes,
        groups_path: path(p.groups_claim.as_deref().unwrap_or("groups")),
        claims: p.claims.clone(),
        kind_rules: p.kind_rules.iter().map(|r| (path(&r.claim), r.equals.clone(), r.kind)).collect(),
        default_kind: p.default_kind.unwrap_or(SubjectKind::Human),
        forward_token: p.forward_token,
    })
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl StageKind for Identity {
    const NAME: &'static str = "identity";
    type Config = IdentityConfig;

    /// Validates and compiles `config`; every error names its field.
    fn compile(config: IdentityConfig) -> Result<Identity, ConfigError> {
        let mut providers = Vec::new();
        for (i, p) in config.providers.iter().enumerate() {
            let provider = compile_provider(p, &format!("providers[{i}]"))?;
            if providers.iter().any(|q: &Provider| q.name == provider.name) {
                return Err(ConfigError::new(format!("providers[{i}].name"), "provider names must be unique"));
            }
            providers.push(provider);
        }
        let spiffe = match config.spiffe {
            Some(s) if s.trust_domains.is_empty() => {
                return Err(ConfigError::new("spiffe.trust_domains", "list at least one trust domain"))
            }
            Some(s) => Some((s.trust_domains, s.kind.unwrap_or(SubjectKind::Service))),
            None => None,
        };
        let api_keys = match config.api_keys {
            Some(a) => {
                let header = a.header.unwrap_or_else(|| "x-api-key".into());
                if !header_name_ok(&header) {
                    return Err(ConfigError::new("api_keys.header", "not a lowercase header name"));
                }
                let mut keys = Vec::new();
                for (i, k) in a.keys.iter().enumerate() {
                    let sha256 = decode_hex(&k.sha256).ok_or_else(|| {
                        ConfigError::new(
                            format!("api_keys.keys[{i}].sha256"),
                            "expected 64 hex characters (SHA-256 of the key)",
                        )
                    })?;
                    if k.subject.is_empty() {
                        return Err(ConfigError::new(format!("api_keys.keys[{i}].subject"), "must not be empty"));
                    }
                    keys.push(ApiKey {
                        sha256,
                        subject: k.subject.clone(),
                        kind: k.kind.unwrap_or(SubjectKind::Agent),
                        groups: k.groups.clone(),
                    });
                }
                Some((header, keys))
            }
            None => None,
        };
        if providers.is_empty() && spiffe.is_none() && api_keys.is_none() {
            return Err(ConfigError::new(
                "providers",
                "configure at least one identity source (providers, spiffe or api_keys)",
            ));
        }
        let mut routes = Vec::new();
        for (i, r) in config.routes.iter().enumerate() {
            if let Some((j, _)) =
                r.methods.iter().enumerate().find(|(_, m)| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(ConfigError::new(format!("routes[{i}].methods[{j}]"), "methods are uppercase letters"));
            }
            if r.prefix.as_deref().is_some_and(|p| !p.starts_with('/')) {
                return Err(ConfigError::new(format!("routes[{i}].prefix"), "a path prefix starts with /"));
            }
            routes.push(Route {
                host: r.host.clone(),
                prefix: r.prefix.clone(),
                methods: r.methods.clone(),
                requirement: r.requirement,
            });
        }
        let h = &config.upstream_headers;
        for (name, value) in [("subject", &h.subject), ("kind", &h.kind), ("actor", &h.actor), ("groups", &h.groups)] {
            if value.as_deref().is_some_and(|v| !header_name_ok(v)) {
                return Err(ConfigError::new(format!("upstream_headers.{name}"), "not a lowercase header name"));
            }
        }
        let strip = [&h.subject, &h.kind, &h.actor, &h.groups].into_iter().flatten().cloned().collect();
        Ok(Identity {
            strip,
            providers,
            spiffe,
            api_keys,
            routes,
            default_requirement: config.default_requirement,
            headers: config.upstream_headers,
            failure_mode: config.failure_mode,
            token_cache_size: config.token_cache_size.unwrap_or(crate::cache::DEFAULT_CAPACITY),
        })
    }
}

impl Identity {
    /// The requirement for a request.
    pub fn requirement(&self, host: &str, path: &str, method: &str) -> Requirement {
        let host = host.split(':').next().unwrap_or(host);
        self.routes
            .iter()
            .find(|r| {
                r.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(host))
                    && r.prefix.as_deref().is_none_or(|p| path.starts_with(p))
                    && (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
            })
            .map_or(self.default_requirement, |r| r.requirement)
    }

    /// Every upstream identity header name (removed from incoming requests).
    pub fn identity_header_names(&self) -> &[String] {
        &self.strip
    }
}
