//! The masking stage's configuration as written, and its compilation (once, at load) into
//! profiles and the route table. Unknown fields are rejected; every error names its field.

use crate::detectors::{self, Part, BUILTINS};
use crate::jsonpath::JsonPath;
use crate::profile::{PathRule, Profile};
use crate::scanner::{Detector, Scanner};
use crate::strategy::{HashKey, Strategy};
use crate::validators::Validator;
use hmac::Mac;
use serde::Deserialize;
use std::collections::BTreeMap;
use warden_kit::{ConfigError, FailureMode};

/// The plugin configuration.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// Named profiles.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Profile for every request body (prompts and payloads leaving); none by default.
    #[serde(default)]
    pub request: Option<String>,
    /// Profile for every response body; none by default.
    #[serde(default)]
    pub response: Option<String>,
    /// Per-route profiles (first matching prefix wins; replaces `request`/`response`).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Also apply the profiles named by `warden.decision` mask obligations (default true).
    #[serde(default = "yes")]
    pub obligations: bool,
    /// Key of `hash` tokens (at least 16 bytes); required when a profile uses `hash`.
    #[serde(default)]
    pub hash_key: Option<String>,
    /// Largest body masked (default 1048576). Larger bodies fail per `failure_mode`.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// `closed` (default: 413 for requests, 502 for responses) or `open` (passed unmasked,
    /// logged).
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Compressed bodies (`content-encoding` other than identity): `deny` (default; 415 for
    /// requests, 502 for responses) or `pass` (unscanned, and the facts say so).
    #[serde(default)]
    pub compressed: Unscannable,
    /// Content types that are not JSON, NDJSON, event streams, forms or text, and bodies
    /// without a content type: `text` (default: scanned as text), `pass` or `deny`.
    #[serde(default)]
    pub other_content: OtherContent,
    /// Response header summarising what was masked in the request, e.g. `x-warden-masked`
    /// (`email=2,payment_card=1`). Response counts are in the facts only: Envoy has sent the
    /// response headers before the body is seen.
    #[serde(default)]
    pub summary_header: Option<String>,
}

fn yes() -> bool {
    true
}

/// What happens to a body that cannot be scanned.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unscannable {
    /// Refuse it.
    #[default]
    Deny,
    /// Pass it unscanned (recorded in the facts).
    Pass,
}

/// What happens to bodies of other content types.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherContent {
    /// Scan as text.
    #[default]
    Text,
    /// Pass unscanned (recorded in the facts).
    Pass,
    /// Refuse.
    Deny,
}

/// Profiles for requests whose path starts with `prefix`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix.
    pub prefix: String,
    /// Profile for request bodies.
    #[serde(default)]
    pub request: Option<String>,
    /// Profile for response bodies.
    #[serde(default)]
    pub response: Option<String>,
}

/// One profile as written.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Built-in detectors by name (default: all of them).
    #[serde(default)]
    pub detectors: Option<Vec<String>>,
    /// Custom detectors.
    #[serde(default)]
    pub custom: Vec<CustomDetector>,
    /// Strategy per detector or path type; others use `default_strategy`.
    #[serde(default)]
    pub strategies: BTreeMap<String, Strategy>,
    /// Strategy of detectors not listed in `strategies` (default `placeholder`).
    #[serde(default)]
    pub default_strategy: Strategy,
    /// JSON path rules: values masked whole.
    #[serde(default)]
    pub paths: Vec<PathConfig>,
}

/// A custom detector.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Name (facts, placeholders).
    pub name: String,
    /// Regular expression (ASCII classes; matched on bytes).
    pub pattern: String,
    /// A built-in validator the match must pass.
    #[serde(default)]
    pub validator: Option<Validator>,
    /// Words of which one must appear near the match (case-insensitive).
    #[serde(default)]
    pub context: Vec<String>,
    /// How near, in bytes before and after (default 48).
    #[serde(default)]
    pub context_window: Option<usize>,
    /// Shortest match accepted (default 1).
    #[serde(default)]
    pub min_length: usize,
}

/// A JSON path rule.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// `$.users[*].ssn`, `$..password`.
    pub path: String,
    /// Type in facts and placeholders (default `redacted`).
    #[serde(default)]
    pub r#type: Option<String>,
    /// Replacement (default: the profile's strategy for this type, else `placeholder`).
    #[serde(default)]
    pub strategy: Option<Strategy>,
}

/// The error for an unknown detector name, listing the known ones.
// Not inlined, like `detectors::find`: listing the built-ins unrolls into one step per
// detector, and LLVM's constraint elimination took minutes on every function it was
// inlined into.
#[cold]
#[inline(never)]
fn unknown_detector(index: usize, name: &str) -> ConfigError {
    let known: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
    ConfigError::new(format!("detectors[{index}]"), format!("unknown detector `{name}` (known: {})", known.join(", ")))
}

/// Compiles one profile.
pub fn compile_profile(name: &str, config: &ProfileConfig, key: Option<&HashKey>) -> Result<Profile, ConfigError> {
    let mut detectors = Vec::new();
    for (i, custom) in config.custom.iter().enumerate() {
        let field = format!("custom[{i}]");
        if custom.name.trim().is_empty() || detectors::find(&custom.name).is_some() {
            return Err(ConfigError::new(format!("{field}.name"), "give a name that no built-in detector has"));
        }
        detectors.push(Detector {
            name: custom.name.clone(),
            pattern: custom.pattern.clone(),
            validator: custom.validator,
            part: Part::Whole,
            context: custom.context.iter().map(|w| w.to_ascii_lowercase()).collect(),
            context_window: custom.context_window.unwrap_or(48),
            min_length: custom.min_length,
        });
    }
    let mut builtins: Vec<(usize, &detectors::Builtin)> = Vec::new();
    match &config.detectors {
        None => builtins.extend(BUILTINS.iter().enumerate()),
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                builtins.push(detectors::find(name).ok_or_else(|| unknown_detector(i, name))?);
            }
        }
    }
    // Built-ins keep their priority order whatever order they are listed in.
    builtins.sort_by_key(|(priority, _)| *priority);
    builtins.dedup_by_key(|(priority, _)| *priority);
    let builtins: Vec<&detectors::Builtin> = builtins.into_iter().map(|(_, b)| b).collect();
    detectors.extend(builtins.iter().map(|b| Detector {
        name: b.name.to_string(),
        pattern: b.pattern.to_string(),
        validator: b.validator,
        part: b.part,
        context: Vec::new(),
        context_window: 0,
        min_length: 1,
    }));
    let strategy_of = |kind: &str| config.strategies.get(kind).unwrap_or(&config.default_strategy).clone();
    let strategies: Vec<Strategy> = detectors.iter().map(|d| strategy_of(&d.name)).collect();
    let mut paths = Vec::new();
    for (i, p) in config.paths.iter().enumerate() {
        let kind = p.r#type.clone().unwrap_or_else(|| "redacted".into());
        let strategy = p.strategy.clone().unwrap_or_else(|| strategy_of(&kind));
        paths.push(PathRule {
            path: JsonPath::parse(&p.path).map_err(|e| e.within(&format!("paths[{i}]")))?,
            kind,
            strategy,
        });
    }
    for kind in config.strategies.keys() {
        let known = detectors.iter().any(|d| &d.name == kind) || paths.iter().any(|p| &p.kind == kind);
        if !known {
            return Err(ConfigError::new(
                format!("strategies.{kind}"),
                "no detector or path of this type in the profile",
            ));
        }
    }
    let uses_hash = strategies.iter().chain(paths.iter().map(|p| &p.strategy)).any(|s| *s == Strategy::Hash);
    if uses_hash && key.is_none() {
        return Err(ConfigError::new(
            "strategies",
            "`hash` needs `hash_key` (at least 16 bytes) in the stage configuration",
        ));
    }
    let scanner = Scanner::compile(detectors)?;
    Ok(Profile::new(name.to_string(), scanner, strategies, paths, key.cloned()))
}

/// The `hash_key` as an HMAC key.
pub fn hash_key(text: Option<&str>) -> Result<Option<HashKey>, ConfigError> {
    match text {
        None => Ok(None),
        Some(k) if k.len() < 16 => Err(ConfigError::new("hash_key", "use at least 16 bytes")),
        Some(k) => HashKey::new_from_slice(k.as_bytes())
            .map(Some)
            .map_err(|_| ConfigError::new("hash_key", "not usable as a key")),
    }
}
