//! `warden config check`: finds every Warden plugin in deployment files and compiles its
//! configuration exactly as the filter does at load (`on_configure`), so a bad configuration
//! is found, with the same field-named error, before it reaches a proxy.
//!
//! Understood: Envoy configuration (bootstrap, listeners, ECDS resources: any object with
//! `vm_config` and `configuration`), Istio `WasmPlugin` and Envoy Gateway
//! `EnvoyExtensionPolicy` manifests, in YAML or JSON, several documents per file. The module
//! is told by its file or image name: `warden.wasm` / image `warden` is the suite, and
//! `warden_<stage>.wasm` / image `warden-<stage>` one stage alone.

use anyhow::Context;
use serde_json::Value;
use std::path::Path;
use warden_kit::ConfigError;

/// One Warden plugin found in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Where in the file: document number and a path to the plugin.
    pub location: String,
    /// Which module: `None` for the suite, `Some(stage)` for one stage alone.
    pub stage: Option<String>,
    /// The plugin configuration as the filter receives it.
    pub config: Vec<u8>,
}

/// Which Warden module a file name, path or image reference names, if any: `Some(None)` for
/// the suite, `Some(Some(stage))` for a single-stage module.
fn module(reference: &str) -> Option<Option<String>> {
    let reference = reference.trim_end_matches('/');
    let last = reference.rsplit('/').next().unwrap_or(reference);
    // An image reference's tag or digest is not part of its name.
    let name = last.split('@').next().unwrap_or(last);
    let name = match name.rsplit_once(':') {
        Some((image, _tag)) if !name.ends_with(".wasm") => image,
        _ => name,
    };
    let name = name.strip_suffix(".wasm").unwrap_or(name);
    if name == "warden" {
        return Some(None);
    }
    let stage = name.strip_prefix("warden_").or_else(|| name.strip_prefix("warden-"))?;
    warden::stage(stage).map(|_| Some(stage.to_string()))
}

/// The plugin configuration of an Envoy `PluginConfig`'s `configuration` (an `Any`):
/// `StringValue` or `BytesValue` as given, `Struct` as its JSON.
fn envoy_configuration(any: &Value) -> Result<Vec<u8>, String> {
    let kind = any["@type"].as_str().unwrap_or("");
    let value = &any["value"];
    match kind.rsplit('/').next().unwrap_or("") {
        "google.protobuf.StringValue" => {
            value.as_str().map(|s| s.as_bytes().to_vec()).ok_or("value is not a string".into())
        }
        "google.protobuf.BytesValue" => {
            use base64::Engine;
            let text = value.as_str().ok_or("value is not base64")?;
            base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("value is not base64: {e}"))
        }
        "google.protobuf.Struct" => Ok(value.to_string().into_bytes()),
        other => {
            Err(format!("configuration of type `{other}` is not one Warden reads (use google.protobuf.StringValue)"))
        }
    }
}

/// Walks an Envoy configuration tree for plugin configurations.
fn walk_envoy(value: &Value, path: &str, doc: usize, found: &mut Vec<Result<Found, ConfigError>>) {
    match value {
        Value::Object(map) => {
            if let (Some(vm), Some(configuration)) = (map.get("vm_config"), map.get("configuration")) {
                let code = &vm["code"];
                let reference = code["local"]["filename"]
                    .as_str()
                    .or_else(|| code["remote"]["http_uri"]["uri"].as_str())
                    .unwrap_or("");
                if let Some(stage) = module(reference) {
                    let location = format!("document {doc}: {path}");
                    found.push(
                        envoy_configuration(configuration)
                            .map(|config| Found { location: location.clone(), stage, config })
                            .map_err(|e| ConfigError::new(format!("{location}.configuration"), e)),
                    );
                }
                return;
            }
            for (key, child) in map {
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk_envoy(child, &child_path, doc, found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk_envoy(child, &format!("{path}[{i}]"), doc, found);
            }
        }
        _ => {}
    }
}

/// The Warden plugins of one YAML/JSON document (`doc`: its position in the file); a plugin
/// whose configuration cannot even be read is an error naming where it is.
pub fn plugins(document: &Value, doc: usize) -> Vec<Result<Found, ConfigError>> {
    let mut found = Vec::new();
    let name = document["metadata"]["name"].as_str().unwrap_or("?");
    match document["kind"].as_str() {
        Some("WasmPlugin") => {
            let spec = &document["spec"];
            if let Some(stage) = spec["url"].as_str().and_then(module) {
                // Istio hands pluginConfig to the module as its JSON.
                let config = spec.get("pluginConfig").cloned().unwrap_or(Value::Object(Default::default()));
                let location = format!("document {doc}: WasmPlugin {name}: spec.pluginConfig");
                found.push(Ok(Found { location, stage, config: config.to_string().into_bytes() }));
            }
        }
        Some("EnvoyExtensionPolicy") => {
            for (i, wasm) in document["spec"]["wasm"].as_array().into_iter().flatten().enumerate() {
                let code = &wasm["code"];
                let reference = code["image"]["url"].as_str().or_else(|| code["http"]["url"].as_str()).unwrap_or("");
                if let Some(stage) = module(reference) {
                    let config = wasm.get("config").cloned().unwrap_or(Value::Object(Default::default()));
                    let location = format!("document {doc}: EnvoyExtensionPolicy {name}: spec.wasm[{i}].config");
                    found.push(Ok(Found { location, stage, config: config.to_string().into_bytes() }));
                }
            }
        }
        _ => walk_envoy(document, "", doc, &mut found),
    }
    found
}

/// Compiles one plugin's configuration as its module would: what it is (`warden.wasm: guard ->
/// policy`), or the module's own error naming the field.
pub fn compile(found: &Found) -> Result<String, ConfigError> {
    match &found.stage {
        None => warden::compile_chain(&found.config).map(|_| {
            let stages: Value = serde_json::from_slice(&found.config).unwrap_or_default();
            let names: Vec<&str> =
                stages["stages"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
            format!("warden.wasm: {}", names.join(" -> "))
        }),
        Some(stage) => match warden::stage(stage) {
            Some(factory) => factory.standalone(&found.config).map(|_| format!("warden_{stage}.wasm")),
            None => Err(ConfigError::new("stage", format!("no Warden stage is called `{stage}`"))),
        },
    }
}

/// Whether a plugin's configuration has rules that match on paths (the policy stage's
/// `match.paths`, the identity stage's route prefixes): such rules need Envoy to hand over a
/// path the upstream reads the same way.
fn has_path_rules(found: &Found) -> bool {
    let config: Value = serde_json::from_slice(&found.config).unwrap_or_default();
    let stage_has = |name: &str, config: &Value| match name {
        "policy" => config["policies"].as_array().into_iter().flatten().any(|policy| {
            policy["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| rule["match"]["paths"].as_array().is_some_and(|paths| !paths.is_empty()))
        }),
        "identity" => config["routes"].as_array().into_iter().flatten().any(|route| route["prefix"].is_string()),
        _ => false,
    };
    match &found.stage {
        Some(stage) => stage_has(stage, &config),
        None => config["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|stage| stage_has(stage["name"].as_str().unwrap_or(""), &stage["config"])),
    }
}

/// What an HTTP connection manager in front of path rules lacks: `normalize_path`,
/// `merge_slashes`, and an escaped-slash action that does not forward `%2F` unchanged.
fn missing_path_settings(manager: &serde_json::Map<String, Value>) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if manager.get("normalize_path") != Some(&Value::Bool(true)) {
        missing.push("normalize_path: true");
    }
    if manager.get("merge_slashes") != Some(&Value::Bool(true)) {
        missing.push("merge_slashes: true");
    }
    let action = manager.get("path_with_escaped_slashes_action").and_then(Value::as_str);
    if !matches!(action, Some("UNESCAPE_AND_REDIRECT" | "REJECT_REQUEST")) {
        missing.push("path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT (or REJECT_REQUEST)");
    }
    missing
}

/// Warnings for the HTTP connection managers of an Envoy configuration document whose Warden
/// plugins match on paths but that lack the path settings, naming the listener.
pub fn path_warnings(document: &Value, doc: usize) -> Vec<String> {
    fn walk(value: &Value, listener: &str, doc: usize, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let listener = match (map.get("filter_chains"), map.get("name").and_then(Value::as_str)) {
                    (Some(_), Some(name)) => name,
                    (Some(_), None) => "(unnamed listener)",
                    _ => listener,
                };
                if let Some(Value::Array(filters)) = map.get("http_filters") {
                    let reads_paths = filters
                        .iter()
                        .flat_map(|filter| plugins(filter, doc))
                        .any(|found| found.is_ok_and(|f| has_path_rules(&f)));
                    let missing = missing_path_settings(map);
                    if reads_paths && !missing.is_empty() {
                        out.push(format!(
                            "document {doc}: listener {listener}: Warden's rules match on paths, but its HTTP connection \
                             manager lacks {} (a path such as /admin%2Fusers or /admin/../x could reach the upstream \
                             spelled differently from what the rules saw)",
                            missing.join(", ")
                        ));
                    }
                }
                for child in map.values() {
                    walk(child, listener, doc, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, listener, doc, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(document, "", doc, &mut out);
    out
}

/// Reads a file's documents (YAML, of which JSON is a subset).
fn documents(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)
            .map_err(|e| anyhow::anyhow!("{}: not YAML or JSON: {e}", path.display()))?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// `warden config check FILE...`: one line per plugin found; true when every one compiles
/// and every file holds at least one.
pub fn check(paths: &[std::path::PathBuf]) -> anyhow::Result<bool> {
    let mut ok = true;
    for path in paths {
        let mut count = 0;
        for (doc, document) in documents(path)?.iter().enumerate() {
            for warning in path_warnings(document, doc) {
                println!("WARN {}: {warning}", path.display());
            }
            for found in plugins(document, doc) {
                count += 1;
                let compiled = found.map(|f| {
                    let what = compile(&f);
                    (f, what)
                });
                match compiled {
                    Ok((found, Ok(what))) => println!("OK   {}: {}: {what}", path.display(), found.location),
                    Ok((found, Err(err))) => {
                        ok = false;
                        println!("FAIL {}: {}: {}", path.display(), found.location, err.brief());
                    }
                    Err(err) => {
                        ok = false;
                        println!("FAIL {}: {}", path.display(), err.brief());
                    }
                }
            }
        }
        if count == 0 {
            ok = false;
            println!("FAIL {}: no Warden plugin found (looked for warden*.wasm and warden images)", path.display());
        }
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envoy_with(manager_settings: Value, policy_paths: Value) -> Value {
        let policy = json!({"policies": [{"name": "p", "rules": [{"id": "r", "match": {"paths": policy_paths}, "effect": "deny"}]}]});
        let mut manager = json!({"stat_prefix": "x", "http_filters": [{"name": "envoy.filters.http.wasm", "typed_config": {"config": {
            "vm_config": {"code": {"local": {"filename": "/etc/envoy/warden.wasm"}}},
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": json!({"stages": [{"name": "policy", "config": policy}]}).to_string()}}}}]});
        if let (Some(m), Value::Object(extra)) = (manager.as_object_mut(), manager_settings) {
            m.extend(extra);
        }
        json!({"static_resources": {"listeners": [{"name": "ingress", "filter_chains": [{"filters": [
            {"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}]}]}})
    }

    #[test]
    fn path_rules_behind_a_connection_manager_without_path_settings_are_warned_about() {
        let warnings = path_warnings(&envoy_with(json!({}), json!([{"prefix": "/admin/"}])), 0);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("listener ingress") && warnings[0].contains("normalize_path: true"));
        assert!(warnings[0].contains("path_with_escaped_slashes_action"));
        let partial = json!({"normalize_path": true, "merge_slashes": true, "path_with_escaped_slashes_action": "KEEP_UNCHANGED"});
        let warnings = path_warnings(&envoy_with(partial, json!([{"prefix": "/admin/"}])), 0);
        assert!(warnings[0].contains("path_with_escaped_slashes_action") && !warnings[0].contains("merge_slashes"));
        let complete = json!({"normalize_path": true, "merge_slashes": true, "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT"});
        assert!(path_warnings(&envoy_with(complete, json!([{"prefix": "/admin/"}])), 0).is_empty());
        assert!(path_warnings(&envoy_with(json!({}), json!([])), 0).is_empty(), "no path rules, nothing to warn about");
    }

    #[test]
    fn modules_are_told_by_file_or_image_name() {
        assert_eq!(module("target/wasm32-wasip1/wasm/warden.wasm"), Some(None));
        assert_eq!(module("oci://ghcr.io/acme/warden:0.1.0"), Some(None));
        assert_eq!(module("registry.local:5000/warden@sha256:abc"), Some(None));
        assert_eq!(module("/etc/envoy/warden_identity.wasm"), Some(Some("identity".into())));
        assert_eq!(module("oci://registry.local:5000/warden-policy:1"), Some(Some("policy".into())));
        assert_eq!(module("warden_nosuchstage.wasm"), None);
        assert_eq!(module("other.wasm"), None);
    }

    #[test]
    fn a_broken_suite_configuration_fails_with_the_filters_own_error() {
        let config = json!({"stages": [{"name": "policy", "config": {"default": "maybe"}}]}).to_string();
        let document = json!({"static_resources": {"listeners": [{"http_filters": [{"typed_config": {"config": {
            "vm_config": {"code": {"local": {"filename": "warden.wasm"}}},
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config.clone()}}}}]}]}});
        let found = plugins(&document, 0);
        assert_eq!(found.len(), 1);
        let found = found[0].clone().unwrap();
        assert!(found.location.contains("listeners[0].http_filters[0]"), "{}", found.location);
        let expected = warden::compile_chain(config.as_bytes()).err().unwrap();
        assert_eq!(compile(&found).unwrap_err(), expected);
        assert!(expected.field.starts_with("stages[0].config.default"), "{}", expected.field);
    }

    #[test]
    fn istio_and_envoy_gateway_manifests_hand_their_object_config_to_the_module() {
        let plugin = json!({"kind": "WasmPlugin", "metadata": {"name": "w"},
            "spec": {"url": "oci://r/warden:1", "pluginConfig": {"stages": [{"name": "guard", "config": {}}]}}});
        let found = plugins(&plugin, 0);
        assert_eq!(compile(found[0].as_ref().unwrap()), Ok("warden.wasm: guard".into()));
        let policy = json!({"kind": "EnvoyExtensionPolicy", "metadata": {"name": "p"},
            "spec": {"wasm": [{"code": {"type": "Image", "image": {"url": "r/warden-guard:1"}},
                               "config": {"strip_request_headers": [7]}}]}});
        let found = plugins(&policy, 2);
        let error = compile(found[0].as_ref().unwrap()).unwrap_err().brief();
        assert!(error.starts_with("strip_request_headers[0]"), "{error}");
        assert!(found[0].as_ref().unwrap().location.starts_with("document 2: EnvoyExtensionPolicy p"));
    }
}
