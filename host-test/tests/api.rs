//! The harness's Rust API, driven step by step with the probe fixture (built by the
//! `warden-test-fixtures` build script).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use std::path::PathBuf;
use std::sync::Arc;
use warden_host_test::host::vm::Runtime;
use warden_host_test::proxy::{ClusterScript, FilterSpec, Outcome, Proxy, ProxyConfig, ScriptedResponse};

/// One runtime for every test: modules are compiled once.
fn shared_runtime() -> Arc<Runtime> {
    static RUNTIME: std::sync::OnceLock<Arc<Runtime>> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| Arc::new(Runtime::new().unwrap())).clone()
}

fn probe_wasm() -> PathBuf {
    PathBuf::from(warden_test_fixtures::PROBE_WASM)
}

fn probe(config: serde_json::Value) -> FilterSpec {
    FilterSpec {
        name: "probe".into(),
        root_id: "probe".into(),
        vm_id: "probe".into(),
        wasm: probe_wasm(),
        configuration: config.to_string(),
        vm_configuration: String::new(),
        failure_policy: Default::default(),
        env: Vec::new(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect()
}

fn request() -> Vec<(String, Vec<u8>)> {
    headers(&[(":authority", "example.com"), (":path", "/"), (":method", "POST")])
}

#[test]
fn upstream_sees_the_request_before_the_test_answers_it() {
    let runtime = shared_runtime();
    let config =
        serde_json::json!({"request_headers": [{"op": "add_header", "map": "request", "name": "x-a", "value": "1"}]});
    let mut proxy = Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], ..Default::default() }).unwrap();
    let stream = proxy.send_headers(0, request(), false);
    proxy.send_data(stream, b"payload", true);
    let upstream = proxy.report(stream).upstream.unwrap();
    assert!(upstream.headers.contains(&("x-a".to_string(), "1".to_string())));
    assert_eq!(upstream.body, b"payload");
    assert_eq!(proxy.report(stream).outcome, None, "no response yet");
    proxy.respond(stream, ScriptedResponse { status: 201, chunks: vec![b"done".to_vec()], ..Default::default() });
    let report = proxy.finish(stream, 1000);
    assert_eq!(
        (report.outcome, report.status, report.body.as_slice()),
        (Some(Outcome::Complete), Some(201), &b"done"[..])
    );
}

#[test]
fn callout_completes_only_when_the_clock_reaches_its_delay() {
    let runtime = shared_runtime();
    let config = serde_json::json!({
        "request_headers": [{"op": "http_call", "cluster": "authz", "timeout_ms": 5000,
            "headers": [[":method", "GET"], [":path", "/"], [":authority", "authz"]]}],
        "http_call_response": [{"op": "resume", "stream": "request"}]
    });
    let mut clusters = std::collections::BTreeMap::new();
    clusters.insert(
        "authz".to_string(),
        ClusterScript::Responds(vec![ScriptedResponse { status: 200, delay_ms: 200, ..Default::default() }]),
    );
    let upstream = Some(ScriptedResponse { status: 200, ..Default::default() });
    let mut proxy =
        Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], clusters, upstream, ..Default::default() })
            .unwrap();
    let stream = proxy.send_headers(0, request(), true);
    proxy.advance(150);
    assert!(proxy.report(stream).upstream.is_none(), "still waiting for the callout");
    proxy.advance(100);
    assert!(proxy.report(stream).upstream.is_some(), "resumed after the callout answered");
    assert_eq!(proxy.callouts().len(), 1);
}

#[test]
fn hostcall_trace_lists_calls_in_order() {
    let runtime = shared_runtime();
    let config = serde_json::json!({"request_headers": [
        {"op": "get_header", "map": "request", "name": ":path"},
        {"op": "set_property", "path": ["warden.x"], "value": "1"}
    ]});
    let mut proxy = Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], ..Default::default() }).unwrap();
    let before = proxy.hostcall_trace(0, 0).len();
    let stream = proxy.send_headers(0, request(), true);
    proxy.finish(stream, 100);
    let calls: Vec<&str> = proxy.hostcall_trace(0, 0)[before..].iter().copied().filter(|c| *c != "proxy_log").collect();
    assert_eq!(calls[..2], ["proxy_get_header_map_value", "proxy_set_property"]);
}

#[test]
fn trap_fails_the_vm_and_reports_why() {
    let runtime = shared_runtime();
    let config = serde_json::json!({"request_headers": [{"op": "panic", "message": "boom"}]});
    let mut proxy = Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], ..Default::default() }).unwrap();
    let stream = proxy.send_headers(0, request(), true);
    let report = proxy.finish(stream, 100);
    assert_eq!(report.status, Some(503));
    assert_eq!(report.local_reply_details.as_deref(), Some("wasm_fail_stream"));
    assert!(proxy.vm_failure(0, 0).unwrap().contains("unreachable"));
}

#[test]
fn proxies_run_in_parallel_on_one_runtime() {
    let runtime = shared_runtime();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let runtime = runtime.clone();
            std::thread::spawn(move || {
                let config = serde_json::json!({"request_headers": [{"op": "shared_increment", "key": "k"}]});
                let mut proxy =
                    Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], ..Default::default() }).unwrap();
                for _ in 0..=i {
                    let stream = proxy.send_headers(0, request(), true);
                    proxy.finish(stream, 100);
                }
                proxy.shared_data("k").unwrap()
            })
        })
        .collect();
    let counts: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        counts,
        vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"4".to_vec()],
        "no state shared between proxies"
    );
}

#[test]
fn request_trailers_reach_the_filter_after_the_body() {
    let runtime = shared_runtime();
    let config = serde_json::json!({
        "request_body": [{"op": "get_body", "buffer": "request"}],
        "request_trailers": [{"op": "get_header", "map": "request_trailers", "name": "grpc-status"}]
    });
    let upstream = Some(ScriptedResponse { status: 200, ..Default::default() });
    let mut proxy =
        Proxy::new(runtime, ProxyConfig { filters: vec![probe(config)], upstream, ..Default::default() }).unwrap();
    let stream = proxy.send_headers(0, request(), false);
    proxy.send_data(stream, b"abc", false);
    proxy.send_trailers(stream, headers(&[("grpc-status", "0")]));
    let report = proxy.finish(stream, 100);
    assert_eq!(report.status, Some(200));
    assert_eq!(report.upstream.map(|u| u.body), Some(b"abc".to_vec()));
    let logs: Vec<String> = proxy.logs().into_iter().map(|l| l.message).collect();
    let body_at = logs.iter().position(|l| l.contains("bytes=abc")).expect("body callback");
    let trailer_at = logs.iter().position(|l| l == "probe: header grpc-status=0").expect("trailers callback");
    assert!(body_at < trailer_at, "{logs:?}");
}

#[test]
fn bench_reports_time_in_filters_as_part_of_each_request() {
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench/passthrough-probe.scenario.yaml");
    let wasm_dir = probe_wasm().parent().unwrap().to_path_buf();
    let cost = warden_host_test::bench::measure(&scenario, 50, &wasm_dir).unwrap();
    assert!(cost.filter_median_ns > 0, "the probe's callbacks take some time: {cost:?}");
    assert!(cost.filter_median_ns <= cost.median_ns, "filters are part of the request: {cost:?}");
}
