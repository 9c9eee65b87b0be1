//! `warden component`: Warden's component packaging from the command line.
//! - `serve` runs `warden_component.wasm` (or a baked one) on wasmtime's `wasi:http`
//!   implementation, a new instance per request as `wasmtime serve` does, optionally chained in
//!   front of a `wasi:http` handler component (`--next`);
//! - `bake` writes a pre-initialised component: the settings compiled into its snapshot, so
//!   an instance per request no longer compiles the configuration.
//!
//! Settings files are JSON objects of the `wasi:config` keys the component reads
//! (`warden_config`, `warden_upstream`, `warden_clusters`, ...); an object value (such as
//! `warden_config`'s) is passed as its JSON text.

use anyhow::{anyhow, bail, Context as _};
use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use warden_host_test::component::routes::{Routes, Script};
use warden_host_test::component::{engine, Clock, ComponentServer, Request};

/// Reads a settings file into `wasi:config` pairs, checking `warden_config` natively first so
/// a mistake is reported with its field before any component runs.
pub fn settings(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Parsed as configuration is: errors name the field, never echo a value (it may be a key).
    let object: serde_json::Map<String, serde_json::Value> = warden_kit::config::parse(text.as_bytes())
        .map_err(|e| anyhow!("{}: expected a JSON object of settings: {e}", path.display()))?;
    let pairs: Vec<(String, String)> = object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect();
    let config = pairs
        .iter()
        .find(|(k, _)| k == "warden_config")
        .ok_or_else(|| anyhow!("{}: `warden_config` is not set", path.display()))?;
    warden::compile_chain(config.1.as_bytes()).map_err(|e| anyhow!("{}: warden_config: {e}", path.display()))?;
    Ok(pairs)
}

/// The authority of the `warden_upstream` URL in `settings`.
fn upstream_authority(settings: &[(String, String)]) -> Option<String> {
    let url = settings.iter().find(|(k, _)| k == "warden_upstream").map(|(_, v)| v.as_str())?;
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    Some(rest.split('/').next().unwrap_or(rest).to_string())
}

/// `warden component bake`.
pub fn bake(component: &Path, settings_file: &Path, out: &Path) -> anyhow::Result<bool> {
    let settings = settings(settings_file)?;
    let wasm = std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let baked = warden_host_test::component::bake::bake(&wasm, settings)?;
    std::fs::write(out, &baked).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}: {} bytes, settings compiled in (from {})", out.display(), baked.len(), settings_file.display());
    Ok(true)
}

/// `warden component serve`: serves until killed.
pub fn serve(component: &Path, settings_file: &Path, listen: &str, next: Option<&Path>) -> anyhow::Result<bool> {
    let settings = settings(settings_file)?;
    let engine = engine()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut scripts = std::collections::BTreeMap::new();
    if let Some(handler) = next {
        let Some(authority) = upstream_authority(&settings) else {
            bail!("--next needs `warden_upstream` (its authority names the handler)");
        };
        let handler = ComponentServer::new(&engine, handler, Vec::new(), Arc::default(), Clock::starting_at(now))?;
        scripts.insert(authority, Script::Handler(Arc::new(handler.printing_logs())));
    }
    let routes = Arc::new(Routes::new(scripts, None));
    let server = ComponentServer::new(&engine, component, settings, routes, Clock::starting_at(now))?.printing_logs();
    let server = Arc::new(server);
    let http = tiny_http::Server::http(listen).map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
    println!("warden component serve: {} on http://{}", component.display(), http.server_addr());
    for mut request in http.incoming_requests() {
        let server = server.clone();
        std::thread::spawn(move || {
            // Bounded like Envoy's buffer: a larger body is refused before it is held.
            let mut body = Vec::new();
            let limit = warden_kit::limits::MAX_BODY_BYTES as u64;
            if request.as_reader().take(limit + 1).read_to_end(&mut body).is_err() {
                let _ = request.respond(tiny_http::Response::empty(400));
                return;
            }
            if body.len() as u64 > limit {
                let _ = request.respond(tiny_http::Response::from_string("body too large\n").with_status_code(413));
                return;
            }
            let authority = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("host"))
                .map(|h| h.value.to_string())
                .unwrap_or_else(|| "localhost".into());
            let headers = request
                .headers()
                .iter()
                .filter(|h| !h.field.equiv("host"))
                .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.to_string()))
                .collect();
            let exchange = Request {
                method: request.method().as_str().to_string(),
                path: request.url().to_string(),
                authority,
                headers,
                body,
                timeout: Duration::from_secs(120),
            };
            let answer = server.handle(&exchange);
            let response = match answer {
                Ok(answer) => {
                    let mut response =
                        tiny_http::Response::from_data(answer.body).with_status_code(answer.status.unwrap_or(502));
                    for (name, value) in answer.headers {
                        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                            continue;
                        }
                        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                            response.add_header(header);
                        }
                    }
                    response
                }
                Err(err) => {
                    eprintln!("warden component serve: {err:#}");
                    tiny_http::Response::from_string("component failed\n").with_status_code(500)
                }
            };
            let _ = request.respond(response);
        });
    }
    Ok(true)
}
