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
use std::rc::Rc;
use warden_kit::{Chain, ConfigError, Stage};

/// Stage names the suite knows, in the order they are usually listed.
pub const STAGES: &[&str] = &["guard", "identity", "policy", "mask"];

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

fn compile_stage(name: &str, config: &serde_json::Value) -> Result<Rc<dyn Stage>, ConfigError> {
    let raw = if config.is_null() { b"{}".to_vec() } else { config.to_string().into_bytes() };
    match name {
        "guard" => {
            let parsed = warden_kit_proxywasm::config::parse(&raw).map_err(|e| e.within("config"))?;
            Ok(Rc::new(warden_guard::Guard::compile(parsed).map_err(|e| e.within("config"))?))
        }
        "identity" => {
            let parsed = warden_kit_proxywasm::config::parse(&raw).map_err(|e| e.within("config"))?;
            Ok(Rc::new(warden_identity::Identity::compile(parsed).map_err(|e| e.within("config"))?))
        }
        "policy" => {
            let parsed = warden_kit_proxywasm::config::parse(&raw).map_err(|e| e.within("config"))?;
            Ok(Rc::new(warden_policy::Policy::compile(parsed).map_err(|e| e.within("config"))?))
        }
        "mask" => {
            let parsed = warden_kit_proxywasm::config::parse(&raw).map_err(|e| e.within("config"))?;
            Ok(Rc::new(warden_mask::Masker::compile(parsed).map_err(|e| e.within("config"))?))
        }
        other => Err(ConfigError::new("name", format!("unknown stage `{other}` (known: {})", STAGES.join(", ")))),
    }
}

/// Compiles the suite's plugin configuration into a chain.
pub fn compile_chain(raw: &[u8]) -> Result<Chain, ConfigError> {
    let config: SuiteConfig = warden_kit_proxywasm::config::parse(raw)?;
    if config.stages.is_empty() {
        return Err(ConfigError::new("stages", "list at least one stage"));
    }
    let mut stages = Vec::with_capacity(config.stages.len());
    for (i, entry) in config.stages.iter().enumerate() {
        let field = format!("stages[{i}]");
        if config.stages[..i].iter().any(|e| e.name == entry.name) {
            return Err(ConfigError::new(format!("{field}.name"), format!("stage `{}` is listed twice", entry.name)));
        }
        stages.push(compile_stage(&entry.name, &entry.config).map_err(|e| e.within(&field))?);
    }
    let mut chain = Chain::new(stages);
    if let Some(max) = config.max_body_bytes {
        if max == 0 || max > 1024 * 1024 {
            return Err(ConfigError::new("max_body_bytes", "must be between 1 and 1048576 (Envoy's buffer limit)"));
        }
        chain = chain.with_max_body_bytes(max);
    }
    Ok(chain)
}

/// The wasm entry point (`_initialize`): registers the root context.
#[cfg(target_arch = "wasm32")]
#[allow(missing_docs)]
mod plugin {
    proxy_wasm::main! {{
        warden_kit_proxywasm::start("warden", super::compile_chain);
    }}
}

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
}
