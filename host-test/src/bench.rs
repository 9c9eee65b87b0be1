//! `warden bench`: cost per request of a scenario's filter chain in the harness.

use crate::host::vm::Runtime;
use crate::proxy::Proxy;
use crate::scenario::harness::proxy_config;
use crate::scenario::resolve::{load, resolve_filters};
use anyhow::bail;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Per-request cost, in ns: the whole request through the harness, and the part spent inside
/// the filters' callbacks (guest code plus the hostcalls it makes).
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Median of the whole request.
    pub median_ns: u64,
    /// 99th percentile of the whole request.
    pub p99_ns: u64,
    /// Median of the time inside filter callbacks.
    pub filter_median_ns: u64,
    /// 99th percentile of the time inside filter callbacks.
    pub filter_p99_ns: u64,
    /// Starting the filters' VMs (instantiate, `on_vm_start`, `on_configure`), per VM, in ns;
    /// the module's compilation is not included.
    pub configure_ns: u64,
}

/// Replays the scenario's requests `iterations` times on one proxy and measures each, under
/// the first packaging the scenario lists.
pub fn measure(scenario_path: &Path, iterations: usize, wasm_dir: &Path) -> anyhow::Result<Cost> {
    let scenario = load(scenario_path)?;
    let scenario = match scenario.packagings.first() {
        Some(packaging) => crate::scenario::packaging::packaged(&scenario, *packaging)?,
        None => scenario,
    };
    if scenario.requests.is_empty() {
        bail!("{}: no requests to time", scenario_path.display());
    }
    let filters = resolve_filters(&scenario, scenario_path, wasm_dir)?;
    let runtime = Arc::new(Runtime::new()?);
    for filter in &filters {
        runtime.load(&filter.wasm)?; // compile first: configure time is measured alone
    }
    let config = proxy_config(&scenario, &filters, &crate::scenario::services::Services::default());
    let vms = (config.workers.max(1) + 1) * config.filters.len().max(1);
    let started = Instant::now();
    let mut proxy = Proxy::new(runtime, config)?;
    let configure_ns = started.elapsed().as_nanos() as u64 / vms as u64;
    let mut samples = Vec::with_capacity(iterations);
    let mut filter_samples = Vec::with_capacity(iterations);
    for i in 0..iterations + iterations / 10 {
        let request = &scenario.requests[i % scenario.requests.len()];
        let headers = vec![
            (":authority".to_string(), request.authority.as_bytes().to_vec()),
            (":path".to_string(), request.path.as_bytes().to_vec()),
            (":method".to_string(), request.method.as_bytes().to_vec()),
        ]
        .into_iter()
        .chain(request.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())))
        .collect();
        let body = request.body.clone().unwrap_or_default();
        let guest_before = proxy.guest_time_ns();
        let start = Instant::now();
        let sid = proxy.send_headers(0, headers, body.is_empty());
        if !body.is_empty() {
            proxy.send_data(sid, body.as_bytes(), true);
        }
        proxy.finish(sid, request.timeout_ms);
        let elapsed = start.elapsed().as_nanos() as u64;
        if i >= iterations / 10 {
            samples.push(elapsed); // the first 10% warm up
            filter_samples.push(proxy.guest_time_ns() - guest_before);
        }
    }
    let (median_ns, p99_ns) = median_and_p99(samples);
    let (filter_median_ns, filter_p99_ns) = median_and_p99(filter_samples);
    Ok(Cost { median_ns, p99_ns, filter_median_ns, filter_p99_ns, configure_ns })
}

/// How the component packaging is hosted while it is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentHosting {
    /// A new instance per request, as `wasmtime serve` does: every request compiles the
    /// configuration and starts with empty caches.
    InstancePerRequest,
    /// One instance for every request, as hosts that pool instances do.
    ReusedInstance,
    /// A new instance per request of a baked component (`warden component bake`: the
    /// settings compiled into its snapshot).
    BakedInstancePerRequest,
}

/// Replays the scenario's requests through `warden_component.wasm` (the scenario under the
/// component packaging; `component_dir` holds the component) and measures each whole request.
pub fn measure_component(
    scenario_path: &Path,
    iterations: usize,
    component_dir: &Path,
    hosting: ComponentHosting,
) -> anyhow::Result<(u64, u64)> {
    let scenario = load(scenario_path)?;
    let scenario = crate::scenario::packaging::packaged(&scenario, crate::scenario::Packaging::Component)?;
    if scenario.requests.is_empty() {
        bail!("{}: no requests to time", scenario_path.display());
    }
    let filters = resolve_filters(&scenario, scenario_path, component_dir)?;
    let services = crate::scenario::services::Services::default();
    let mut server = match hosting {
        ComponentHosting::BakedInstancePerRequest => {
            let baked = std::env::temp_dir().join(format!("warden-bench-baked-{}.wasm", std::process::id()));
            let server = crate::scenario::component::baked_server(&scenario, &filters, &services, &baked);
            let _ = std::fs::remove_file(&baked);
            server?
        }
        _ => crate::scenario::component::server(&scenario, &filters, &services)?,
    };
    if hosting == ComponentHosting::ReusedInstance {
        server = server.reusing_instances();
    }
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + iterations / 10 {
        let request = &scenario.requests[i % scenario.requests.len()];
        let body = request.body.clone().unwrap_or_default();
        let mut headers: Vec<(String, String)> =
            request.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if !body.is_empty() {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        let exchange = crate::component::Request {
            method: request.method.clone(),
            path: request.path.clone(),
            authority: request.authority.clone(),
            headers,
            body: body.into_bytes(),
            timeout: std::time::Duration::from_millis(request.timeout_ms),
        };
        let start = Instant::now();
        let answer = server.handle(&exchange)?;
        let elapsed = start.elapsed().as_nanos() as u64;
        if answer.status.is_none() {
            bail!("{}: request {} got no response", scenario_path.display(), i);
        }
        if i >= iterations / 10 {
            samples.push(elapsed);
        }
    }
    Ok(median_and_p99(samples))
}

/// `warden bench --component`: prints the component's cost line.
pub fn run_component(
    scenario_path: &Path,
    iterations: usize,
    component_dir: &Path,
    hosting: ComponentHosting,
) -> anyhow::Result<()> {
    let (median, p99) = measure_component(scenario_path, iterations.max(10), component_dir, hosting)?;
    let mode = match hosting {
        ComponentHosting::InstancePerRequest => "instance per request",
        ComponentHosting::ReusedInstance => "reused instance",
        ComponentHosting::BakedInstancePerRequest => "baked, instance per request",
    };
    println!(
        "{}: {} requests, component ({mode}), median {median} ns, p99 {p99} ns",
        scenario_path.display(),
        iterations.max(10)
    );
    Ok(())
}

fn median_and_p99(mut samples: Vec<u64>) -> (u64, u64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.5), at(0.99))
}

/// `warden bench`: prints the cost line.
pub fn run(scenario_path: &Path, iterations: usize, wasm_dir: &Path) -> anyhow::Result<()> {
    let cost = measure(scenario_path, iterations.max(10), wasm_dir)?;
    println!(
        "{}: {} requests, median {} ns, p99 {} ns, in filters median {} ns, p99 {} ns, configure {} us per VM",
        scenario_path.display(),
        iterations.max(10),
        cost.median_ns,
        cost.p99_ns,
        cost.filter_median_ns,
        cost.filter_p99_ns,
        cost.configure_ns / 1000
    );
    Ok(())
}
