//! Runs a scenario under the `component` packaging: `warden_component.wasm` served the way
//! `wasmtime serve` serves it ([`crate::component::ComponentServer`]), with the scenario's
//! upstream and clusters behind `wasi:http` and its settings in `wasi:config`.

use super::format::{config_text, Scenario};
use super::harness::scripted;
use super::observed::{upstream_view, Observed, RequestView};
use super::resolve::ResolvedFilter;
use super::services::Services;
use crate::component::routes::{Routes, Script};
use crate::component::{engine, Clock, ComponentServer, Request};
use crate::proxy::Outcome;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The authority the scenario's upstream answers at.
const UPSTREAM: &str = "upstream.warden.test";
/// The virtual clock's start, as the harness's: 2026-01-01T00:00:00Z.
const START_SECS: u64 = 1_767_225_600;

fn cluster_authority(name: &str) -> String {
    format!("{name}.cluster.warden.test")
}

/// A server for `scenario` (already packaged: one `warden_component.wasm` filter): its
/// upstream and clusters behind `wasi:http` (scripted ones in process, services the scenario
/// started over the network), its configuration in `wasi:config`.
pub fn server(scenario: &Scenario, filters: &[ResolvedFilter], services: &Services) -> anyhow::Result<ComponentServer> {
    let Some(filter) = filters.first() else { anyhow::bail!("no component to run") };
    let (settings, routes) = setup(scenario, filter, services);
    let clock = Clock::starting_at(Duration::from_secs(START_SECS));
    ComponentServer::new(&engine()?, &filter.wasm, settings, routes, clock)
}

/// The settings (`wasi:config` keys) and routes a scenario gives its component.
pub fn setup(
    scenario: &Scenario,
    filter: &ResolvedFilter,
    services: &Services,
) -> (Vec<(String, String)>, Arc<Routes>) {
    let mut scripts = BTreeMap::new();
    let mut clusters = serde_json::Map::new();
    for (name, def) in &scenario.clusters {
        let url = match services.address(name) {
            Some(addr) => format!("http://{addr}"),
            None => {
                let script = if def.down {
                    Script::Down
                } else if def.responses.is_empty() {
                    Script::Responds(vec![scripted(&Default::default())])
                } else {
                    Script::Responds(def.responses.iter().map(scripted).collect())
                };
                scripts.insert(cluster_authority(name), script);
                format!("http://{}", cluster_authority(name))
            }
        };
        clusters.insert(name.clone(), serde_json::Value::String(url));
    }
    scripts.insert(UPSTREAM.to_string(), Script::Responds(vec![scripted(&scenario.upstream)]));
    let routes = Arc::new(Routes::new(scripts, Some(Duration::from_millis(scenario.route_timeout_ms))));
    let settings = vec![
        ("warden_config".to_string(), config_text(&filter.def.config)),
        ("warden_upstream".to_string(), format!("http://{UPSTREAM}")),
        ("warden_clusters".to_string(), serde_json::Value::Object(clusters).to_string()),
        ("warden_node_id".to_string(), scenario.node.id.clone()),
        // Facts come back on `[access]` lines: the scenario's `expect.filter_state`.
        ("warden_access_log".to_string(), "stderr".to_string()),
    ];
    (settings, routes)
}

/// A server for a baked copy of the scenario's component (its settings compiled in), written
/// to `baked`.
pub fn baked_server(
    scenario: &Scenario,
    filters: &[ResolvedFilter],
    services: &Services,
    baked: &std::path::Path,
) -> anyhow::Result<ComponentServer> {
    let Some(filter) = filters.first() else { anyhow::bail!("no component to run") };
    let (settings, routes) = setup(scenario, filter, services);
    let wasm = std::fs::read(&filter.wasm)?;
    std::fs::write(baked, crate::component::bake::bake(&wasm, settings.clone())?)?;
    let clock = Clock::starting_at(Duration::from_secs(START_SECS));
    ComponentServer::new(&engine()?, baked, settings, routes, clock)
}

/// Runs `scenario` (already packaged: one `warden_component.wasm` filter) and returns what
/// the client, the upstream and the clusters saw.
pub fn run(scenario: &Scenario, filters: &[ResolvedFilter], services: &Services) -> Observed {
    let mut observed = Observed::default();
    let server = match server(scenario, filters, services) {
        Ok(server) => server,
        Err(err) => {
            observed.load_error = Some(format!("{err:#}"));
            return observed;
        }
    };
    let routes = server.routes_handle();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    for request in &scenario.requests {
        if request.wait_ms > 0 {
            server.clock().skip(request.wait_ms);
        }
        let (request, people) = services.before(request, &errors);
        let body = match (&request.chunks, &request.body) {
            (Some(chunks), _) => chunks.concat(),
            (None, Some(body)) => body.clone(),
            _ => String::new(),
        };
        let mut headers: Vec<(String, String)> =
            request.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if !body.is_empty() {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        let before = routes.sent().len();
        let lines_before = server.stderr_lines().len();
        let served = server.handle(&Request {
            method: request.method.clone(),
            path: request.path.clone(),
            authority: request.authority.clone(),
            headers,
            body: body.into_bytes(),
            timeout: Duration::from_millis(request.timeout_ms),
        });
        let answer = match served {
            Ok(answer) => answer,
            Err(err) => {
                errors.lock().map(|mut e| e.push(format!("{err:#}"))).ok();
                Default::default()
            }
        };
        services.after(people, &String::from_utf8_lossy(&answer.body));
        let upstream = routes.sent()[before..].iter().find(|s| s.authority == UPSTREAM).map(|sent| {
            // The upstream's view as Envoy's upstream would see it: the client's authority
            // (the component forwards it as x-forwarded-host; `host` is the upstream's).
            let forwarded_host = sent.headers.iter().find(|(k, _)| k == "x-forwarded-host").map(|(_, v)| v.clone());
            let mut headers: Vec<(String, String)> = vec![
                (":method".into(), sent.method.clone()),
                (":path".into(), sent.path.clone()),
                (":authority".into(), forwarded_host.unwrap_or_default()),
            ];
            headers.extend(sent.headers.iter().filter(|(k, _)| k != "host" && k != "x-forwarded-host").cloned());
            upstream_view(&headers, String::from_utf8_lossy(&sent.body).into_owned())
        });
        let outcome = if answer.timed_out {
            Outcome::Timeout
        } else if answer.complete {
            Outcome::Complete
        } else {
            Outcome::Reset
        };
        let filter_state = server.stderr_lines()[lines_before..]
            .iter()
            .find_map(|line| line.strip_prefix("[access] "))
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|line| line.get("facts").and_then(|f| f.as_object()).cloned())
            .map(|facts| facts.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        observed.requests.push(RequestView {
            outcome: Some(outcome),
            status: answer.status,
            headers: answer.headers.clone(),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
            body_before_last_chunk: None,
            upstream,
            filter_state,
        });
    }
    if let Some(ledger) = &scenario.expect.ledger {
        // Each instance ships its records before it ends: nothing to wait for but the ledger.
        observed.ledger = services.read_ledger(ledger.records, &mut || std::thread::sleep(Duration::from_millis(50)));
    }
    observed.errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    for line in server.stderr_lines() {
        if let Some(metric) = line.strip_prefix("[metric] ") {
            let parts: Vec<&str> = metric.split(' ').collect();
            if let [kind, name, value] = parts[..] {
                let value: i64 = value.parse().unwrap_or(0);
                let entry = observed.metrics.entry(name.to_string()).or_insert(0);
                *entry = if kind == "counter" { *entry + value } else { value };
            }
        } else if !line.starts_with("[access] ") {
            let message = line.split_once("] ").map(|(_, m)| m.to_string()).unwrap_or(line);
            observed.logs.push(message);
        }
    }
    observed.callouts = routes
        .sent()
        .iter()
        .filter(|s| s.authority != UPSTREAM)
        .map(|sent| {
            let cluster = scenario
                .clusters
                .keys()
                .find(|name| {
                    cluster_authority(name) == sent.authority
                        || services.address(name).is_some_and(|a| a.to_string() == sent.authority)
                })
                .cloned()
                .unwrap_or_else(|| sent.authority.clone());
            let mut headers: Vec<(String, String)> = vec![
                (":method".into(), sent.method.clone()),
                (":path".into(), sent.path.clone()),
                (":authority".into(), sent.authority.clone()),
            ];
            headers.extend(sent.headers.iter().filter(|(k, _)| k != "host").cloned());
            let mut view = upstream_view(&headers, String::from_utf8_lossy(&sent.body).into_owned());
            view.cluster = cluster;
            view
        })
        .collect();
    observed
}
