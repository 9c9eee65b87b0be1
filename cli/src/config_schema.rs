//! `warden config schema`: the JSON Schemas (2020-12) of every stage's configuration, made from
//! the Rust configuration types, and of `warden.wasm`'s plugin configuration (which embeds
//! them). Committed in `filters/suite/schemas/`; a test fails when they drift from the types.

use anyhow::Context;
use serde_json::{json, Value};
use std::path::Path;

/// Where the committed schemas live, from the repository root.
pub const COMMITTED: &str = "filters/suite/schemas";

/// The id a stage's schema is known by inside the suite's.
fn id(stage: &str) -> String {
    format!("urn:warden:config:{stage}")
}

/// Every stage's schema, in the suite's order.
fn stage_schemas() -> Vec<(&'static str, Value)> {
    let schemas = [
        ("guard", warden_guard::config_schema()),
        ("identity", warden_identity::config_schema()),
        ("policy", warden_policy::config_schema()),
        ("approval", warden_approval::config_schema()),
        ("mask", warden_mask::config_schema()),
        ("audit", warden_audit::config_schema()),
    ];
    schemas
        .into_iter()
        .map(|(name, schema)| {
            let mut value = schema.to_value();
            value["$id"] = json!(id(name));
            value["title"] = json!(format!(
                "Warden {name} stage configuration (warden_{name}.wasm, or stage `{name}` in warden.wasm)"
            ));
            (name, value)
        })
        .collect()
}

/// The files: `warden_<stage>.schema.json` for each stage, and `warden.schema.json`.
pub fn files() -> Vec<(String, Value)> {
    let stages = stage_schemas();
    let entries: Vec<Value> = stages
        .iter()
        .map(|(name, _)| {
            json!({"type": "object", "additionalProperties": false, "required": ["name"],
                   "properties": {"name": {"const": name}, "config": {"$ref": id(name)}}})
        })
        .collect();
    let defs: serde_json::Map<String, Value> =
        stages.iter().map(|(name, schema)| ((*name).to_string(), schema.clone())).collect();
    let suite = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:warden:config:warden",
        "title": "warden.wasm plugin configuration",
        "description": "Stages run in the order listed, each at most once; see filters/suite/README.md.",
        "type": "object", "additionalProperties": false, "required": ["stages"],
        "properties": {
            "stages": {"type": "array", "minItems": 1, "items": {"oneOf": entries}},
            "max_body_bytes": {"type": "integer", "minimum": 1, "maximum": 1_048_576, "default": 1_048_576}
        },
        "$defs": defs
    });
    let mut files: Vec<(String, Value)> =
        stages.into_iter().map(|(name, schema)| (format!("warden_{name}.schema.json"), schema)).collect();
    files.push(("warden.schema.json".into(), suite));
    files
}

fn render(value: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// Writes the schemas into `dir`.
pub fn write(dir: &Path) -> anyhow::Result<bool> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, schema) in files() {
        let path = dir.join(&name);
        std::fs::write(&path, render(&schema)?).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(true)
}

/// Compares the schemas with the files in `dir`: true when every one is there and the same.
pub fn check(dir: &Path) -> anyhow::Result<bool> {
    let mut ok = true;
    for (name, schema) in files() {
        let path = dir.join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != render(&schema)? {
            ok = false;
            println!("DRIFT {}: differs from the configuration types", path.display());
        }
    }
    if !ok {
        println!("regenerate them: warden config schema --out {}", dir.display());
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schemas_match_the_configuration_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(COMMITTED);
        assert!(check(&dir).unwrap(), "run `cargo run -p warden-cli -- config schema --out {COMMITTED}`");
    }

    #[test]
    fn stage_schemas_reject_unknown_fields_and_name_the_fields() {
        let files = files();
        let policy = &files.iter().find(|(n, _)| n == "warden_policy.schema.json").unwrap().1;
        assert_eq!(policy["additionalProperties"], json!(false), "{policy}");
        assert!(policy["properties"]["policies"].is_object(), "{policy}");
        let suite = &files.iter().find(|(n, _)| n == "warden.schema.json").unwrap().1;
        assert_eq!(suite["properties"]["stages"]["items"]["oneOf"].as_array().unwrap().len(), 6);
    }
}
