//! Runs a scenario in the wasmtime harness ([`crate::proxy::Proxy`]).

use super::format::{config_text, ResponseDef, Scenario};
use super::observed::{upstream_view, Observed, RequestView};
use super::resolve::ResolvedFilter;
use super::services::Services;
use crate::host::state::{AttrValue, Pairs};
use crate::host::vm::Runtime;
use crate::proxy::{ClusterScript, FilterSpec, Proxy, ProxyConfig, ScriptedResponse};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

fn pairs(map: &BTreeMap<String, String>) -> Pairs {
    map.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect()
}

/// A scenario response as the harness scripts it.
pub fn scripted(def: &ResponseDef) -> ScriptedResponse {
    ScriptedResponse {
        status: def.status,
        headers: pairs(&def.headers),
        chunks: def.body_chunks(),
        trailers: Vec::new(),
        delay_ms: def.delay_ms,
        hold_last_chunk_ms: def.hold_last_chunk_ms,
    }
}

/// The harness configuration a scenario describes.
pub fn proxy_config(scenario: &Scenario, filters: &[ResolvedFilter], services: &Services) -> ProxyConfig {
    let clusters = scenario
        .clusters
        .iter()
        .map(|(name, def)| {
            let script = if let Some(addr) = services.address(name) {
                ClusterScript::Live(addr)
            } else if def.down {
                ClusterScript::Down
            } else if def.responses.is_empty() {
                ClusterScript::Responds(vec![scripted(&ResponseDef::default())])
            } else {
                ClusterScript::Responds(def.responses.iter().map(scripted).collect())
            };
            (name.clone(), script)
        })
        .collect();
    let mut node = BTreeMap::new();
    node.insert("xds.node.id".to_string(), AttrValue::Str(scenario.node.id.clone()));
    node.insert("xds.node.cluster".to_string(), AttrValue::Str(scenario.node.cluster.clone()));
    let mut connection = BTreeMap::new();
    connection.insert("source.address".to_string(), AttrValue::Str("127.0.0.1:40000".into()));
    connection.insert("source.port".to_string(), AttrValue::Int(40000));
    connection.insert("destination.address".to_string(), AttrValue::Str("127.0.0.1:10000".into()));
    connection.insert("connection.mtls".to_string(), AttrValue::Bool(scenario.client_certificate.is_some()));
    if let Some(certificate) = &scenario.client_certificate {
        connection
            .insert("connection.uri_san_peer_certificate".to_string(), AttrValue::Str(certificate.uri_san.clone()));
    }
    connection.insert("connection.id".to_string(), AttrValue::Int(1));
    connection.insert("request.protocol".to_string(), AttrValue::Str("HTTP/1.1".into()));
    connection.insert("xds.route_name".to_string(), AttrValue::Str("warden_route".into()));
    connection.insert("xds.cluster_name".to_string(), AttrValue::Str("upstream".into()));
    ProxyConfig {
        filters: filters
            .iter()
            .map(|f| FilterSpec {
                name: f.name.clone(),
                root_id: f.root_id.clone(),
                vm_id: f.vm_id.clone(),
                wasm: f.wasm.clone(),
                configuration: config_text(&f.def.config),
                vm_configuration: config_text(&f.def.vm_config),
                failure_policy: f.def.failure_policy,
                env: f.def.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            })
            .collect(),
        workers: scenario.workers,
        clusters,
        upstream: Some(scripted(&scenario.upstream)),
        node,
        connection,
        route_timeout_ms: scenario.route_timeout_ms,
        start_time_ns: 0,
    }
}

/// Runs `scenario` in the harness and returns what it saw.
pub fn run(runtime: &Arc<Runtime>, scenario: &Scenario, filters: &[ResolvedFilter], services: &Services) -> Observed {
    let mut observed = Observed::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut proxy = match Proxy::new(runtime.clone(), proxy_config(scenario, filters, services)) {
        Ok(proxy) => proxy,
        Err(err) => {
            if let Some(failed) = err.downcast_ref::<crate::proxy::StartFailed>() {
                observed.logs = failed.logs.iter().map(|l| l.message.clone()).collect();
            }
            observed.load_error = Some(format!("{err:#}"));
            return observed;
        }
    };
    for request in &scenario.requests {
        if request.wait_ms > 0 {
            proxy.advance(request.wait_ms);
        }
        let (request, people) = services.before(request, &errors);
        let request = &request;
        let mut headers: Pairs = vec![
            (":authority".into(), request.authority.as_bytes().to_vec()),
            (":path".into(), request.path.as_bytes().to_vec()),
            (":method".into(), request.method.as_bytes().to_vec()),
            (":scheme".into(), b"http".to_vec()),
        ];
        let chunks: Vec<&String> = match (&request.chunks, &request.body) {
            (Some(chunks), _) => chunks.iter().collect(),
            (None, Some(body)) if !body.is_empty() => vec![body],
            _ => Vec::new(),
        };
        let chunked = request.chunks.is_some() || !request.trailers.is_empty();
        if !chunked && !chunks.is_empty() {
            headers.push(("content-length".into(), chunks[0].len().to_string().into_bytes()));
        } else if chunked {
            headers.push(("transfer-encoding".into(), b"chunked".to_vec()));
        }
        headers.extend(request.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())));
        let sid = proxy.send_headers(0, headers, chunks.is_empty() && request.trailers.is_empty());
        // As Envoy's HTTP/1 codec: chunks with end_of_stream false, then an empty end.
        for chunk in &chunks {
            proxy.send_data(sid, chunk.as_bytes(), false);
        }
        if !request.trailers.is_empty() {
            proxy.send_trailers(
                sid,
                request.trailers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect(),
            );
        } else if !chunks.is_empty() {
            proxy.send_data(sid, &[], true);
        }
        let report = proxy.finish(sid, request.timeout_ms);
        services.after(people, &String::from_utf8_lossy(&report.body));
        observed.requests.push(RequestView {
            outcome: report.outcome,
            status: report.status,
            headers: report.headers.clone(),
            body: String::from_utf8_lossy(&report.body).into_owned(),
            body_before_last_chunk: report
                .body_before_last_chunk
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            upstream: report
                .upstream
                .filter(|u| u.complete)
                .map(|u| upstream_view(&u.headers, String::from_utf8_lossy(&u.body).into_owned())),
            filter_state: report
                .filter_state
                .iter()
                .map(|(k, v)| (k.strip_prefix("wasm.").unwrap_or(k).to_string(), v.clone()))
                .collect(),
        });
    }
    if let Some(ledger) = &scenario.expect.ledger {
        // Virtual time moves on, so the filters' timers ship their batches.
        observed.ledger = services.read_ledger(ledger.records, &mut || proxy.advance(100));
    }
    observed.errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    observed.logs = proxy.logs().into_iter().map(|l| l.message).collect();
    observed.metrics = proxy.metrics().into_iter().map(|m| (m.name, m.value)).collect();
    observed.callouts = proxy
        .callouts()
        .iter()
        .map(|c| {
            let mut view = upstream_view(&c.headers, c.body.clone());
            view.cluster = c.cluster.clone();
            view
        })
        .collect();
    observed
}
