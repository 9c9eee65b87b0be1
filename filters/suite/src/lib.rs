//! `warden.wasm`: every Warden stage in one module. One VM per worker and one crossing per
//! callback for the whole chain; facts pass between stages in memory (and are exported to
//! filter state for the access log and other filters). The recommended way to run Warden.
//!
//! Plugin configuration:
//! ```json
//! {"stages": [{"name": "guard", "config": {"strip_request_headers": ["x-warden-*"]}}],
//!  "max_body_bytes": 1048576}
//! ```
//! Stages run in the order listed. Unknown stage names, duplicates and bad stage
//! configuration reject the plugin with the field named (`stages[0].config.allowed_methods[1]`).
#![forbid(unsafe_code)]

use serde::Deserialize;
use warden_kit::{Chain, ConfigError, StageFactory};

/// The stages the suite knows, in the order they are usually listed. Each is registered once,
/// by its own crate.
pub const STAGES: &[StageFactory] = &[
    warden_guard::STAGE,
    warden_identity::STAGE,
    warden_policy::STAGE,
    warden_approval::STAGE,
    warden_mask::STAGE,
    warden_audit::STAGE,
];

/// One entry of `stages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageEntry {
    name: String,
    #[serde(default)]
    config: serde_json::Value,
}

/// The suite's plugin configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteConfig {
    stages: Vec<StageEntry>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
}

/// The registered stage called `name`.
pub fn stage(name: &str) -> Option<&'static StageFactory> {
    STAGES.iter().find(|s| s.name() == name)
}

/// Compiles the suite's plugin configuration into a chain.
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: SuiteConfig = warden_kit::config::parse(raw)?;
    if config.stages.is_empty() {
        return Err(ConfigError::new("stages", "list at least one stage"));
    }
    let mut stages = Vec::with_capacity(config.stages.len());
    let mut fields = Vec::with_capacity(config.stages.len());
    for (i, entry) in config.stages.iter().enumerate() {
        let field = format!("stages[{i}]");
        if config.stages[..i].iter().any(|e| e.name == entry.name) {
            return Err(ConfigError::new(format!("{field}.name"), format!("stage `{}` is listed twice", entry.name)));
        }
        let Some(factory) = stage(&entry.name) else {
            let known: Vec<&str> = STAGES.iter().map(StageFactory::name).collect();
            let message = format!("unknown stage `{}` (known: {})", entry.name, known.join(", "));
            return Err(ConfigError::new(format!("{field}.name"), message));
        };
        let raw = if entry.config.is_null() { b"{}".to_vec() } else { entry.config.to_string().into_bytes() };
        stages.push(factory.compile(&raw).map_err(|e| e.within(&format!("{field}.config")))?);
        fields.push(format!("{field}.config"));
    }
    let named: Vec<_> = fields.into_iter().zip(stages.iter().cloned()).collect();
    warden_kit::contract::check(&named)?;
    let mut chain = Chain::new(stages);
    if let Some(max) = config.max_body_bytes {
        chain = chain.with_max_body_bytes(warden_kit::limits::body_limit("max_body_bytes", max)?);
    }
    Ok(chain)
}

// The wasm entry point (`_initialize`): registers the root context.
#[cfg(all(target_arch = "wasm32", feature = "proxy-wasm"))]
warden_kit_proxywasm::plugin!("warden", compile_chain);

#[cfg(test)]
mod tests {
    use super::compile_chain;

    #[test]
    fn stages_compile_in_order() {
        let chain = compile_chain(br#"{"stages":[{"name":"guard","config":{"allowed_methods":["GET"]}}]}"#).unwrap();
        assert_eq!(chain.stage_names(), vec!["guard"]);
    }

    #[test]
    fn errors_name_the_stage_field() {
        let err =
            compile_chain(br#"{"stages":[{"name":"guard","config":{"allowed_methods":["get"]}}]}"#).err().unwrap();
        assert_eq!(err.field, "stages[0].config.allowed_methods[0]");
        let err = compile_chain(br#"{"stages":[{"name":"teleport"}]}"#).err().unwrap();
        assert_eq!(err.field, "stages[0].name");
        let err = compile_chain(br#"{"stages":[{"name":"guard"},{"name":"guard"}]}"#).err().unwrap();
        assert_eq!(err.field, "stages[1].name");
        assert!(compile_chain(br#"{"stages":[]}"#).is_err());
    }

    #[test]
    fn a_policy_hold_longer_than_the_approval_stage_holds_is_refused_naming_the_rule() {
        let chain = |hold: u64, ceiling: u64| {
            let config = serde_json::json!({"stages": [
                {"name": "policy", "config": {"policies": [{"name": "p", "rules": [
                    {"id": "short", "effect": "require_approval", "match": {"paths": [{"prefix": "/a"}]},
                     "approval": {"approvers": {"groups": ["dba"]}, "hold_timeout_ms": 1000}},
                    {"id": "long", "effect": "require_approval", "match": {"paths": [{"prefix": "/b"}]},
                     "approval": {"approvers": {"groups": ["dba"]}, "hold_timeout_ms": hold}}]}]}},
                {"name": "approval", "config": {"service": {"cluster": "approvals", "key": "k"},
                 "receipt_public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "max_hold_timeout_ms": ceiling}}]});
            compile_chain(config.to_string().as_bytes())
        };
        let err = chain(120_000, 90_000).err().unwrap();
        assert_eq!(err.field, "stages[0].config.policies[0].rules[1].approval.hold_timeout_ms");
        assert!(err.message.contains("stages[1].config.max_hold_timeout_ms"), "{}", err.message);
        assert!(chain(90_000, 90_000).is_ok());
    }
}
