//! `proxy_get_property` / `proxy_set_property`: Envoy attribute paths and filter state.
//!
//! Lookup order, as Envoy does it: filter state written by a wasm filter (`wasm.<name>`),
//! then request attributes derived from the headers, plugin attributes, then the stream's
//! connection attributes (set per scenario, e.g. `source.address`, `connection.mtls`).

use super::state::{AttrValue, HostState, StreamData};

/// Filter-state key under which `set_property(path)` stores a value (Envoy's `wasm.` prefix).
pub fn filter_state_key(path: &[String]) -> String {
    format!("wasm.{}", path.join("."))
}

fn header<'a>(stream: &'a StreamData, name: &str) -> Option<&'a [u8]> {
    stream.request_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
}

fn request_attribute(stream: &StreamData, field: &str) -> Option<Vec<u8>> {
    let path = header(stream, ":path").unwrap_or_default();
    Some(match field {
        "path" => path.to_vec(),
        "url_path" => path.split(|b| *b == b'?').next().unwrap_or_default().to_vec(),
        "query" => path.splitn(2, |b| *b == b'?').nth(1)?.to_vec(),
        "host" => header(stream, ":authority")?.to_vec(),
        "method" => header(stream, ":method")?.to_vec(),
        "scheme" => header(stream, ":scheme").unwrap_or(b"http").to_vec(),
        "id" => header(stream, "x-request-id")?.to_vec(),
        "useragent" => header(stream, "user-agent")?.to_vec(),
        "referer" => header(stream, "referer")?.to_vec(),
        _ => return None,
    })
}

/// Value of the property at `path` for the context being called, encoded as Envoy encodes it.
pub fn get(state: &HostState, path: &[String]) -> Option<Vec<u8>> {
    let joined = path.join(".");
    let stream = state.stream.as_ref().map(|s| s.borrow());
    if let Some(stream) = stream.as_ref() {
        if let Some(value) = stream.filter_state.get(&filter_state_key(path)) {
            return Some(value.clone());
        }
        if let (Some("request"), Some(field), 2) = (path.first().map(String::as_str), path.get(1), path.len()) {
            if let Some(value) = request_attribute(stream, field) {
                return Some(value);
            }
        }
        if joined == "response.code" && stream.response_started {
            let code = stream.response_headers.iter().find(|(k, _)| k == ":status")?;
            let code: i64 = String::from_utf8_lossy(&code.1).parse().ok()?;
            return Some(AttrValue::Int(code).encode());
        }
    }
    let plugin = &state.plugin;
    match joined.as_str() {
        "plugin_name" => return Some(plugin.name.as_bytes().to_vec()),
        "plugin_root_id" => return Some(plugin.root_id.as_bytes().to_vec()),
        "plugin_vm_id" => return Some(plugin.vm_id.as_bytes().to_vec()),
        _ => {}
    }
    if let Some(value) = stream.as_ref().and_then(|s| s.attributes.get(&joined)) {
        return Some(value.encode());
    }
    state.world.borrow().node.get(&joined).map(AttrValue::encode)
}
