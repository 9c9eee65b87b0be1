//! An Envoy-like HTTP connection manager around proxy-wasm VMs: a chain of wasm filters on a
//! virtual clock, with scripted upstream and callout clusters.
//!
//! It reproduces the behaviours measured in Envoy 1.40 (see `docs/envoy-behaviour.md` and
//! the host-test README): a paused headers phase holds body callbacks until resume, buffered
//! bodies are re-delivered whole, header maps can no longer be changed once their phase has
//! passed, stale `content-length` truncates or hangs, callout failures are synthetic 503/504
//! responses, an unknown cluster is refused synchronously, a local reply runs the response
//! callbacks, timers fire in every root context, and a trap fails the VM per
//! `failure_policy`.

pub mod config;
mod events;
mod live;
mod stream;

pub use config::{ClusterScript, FailurePolicy, FilterSpec, ProxyConfig, ScriptedResponse};
pub use stream::{Outcome, StreamId, StreamReport};

use crate::host::state::{
    AttrValue, CalloutDelivery, HostEvent, HostState, LogLine, Metric, Pairs, PluginEnv, StreamData, World,
};
use crate::host::vm::{Runtime, Vm};
use anyhow::Context as _;
use events::{Event, EventQueue};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use stream::Stream;
use wasmtime::Module;

/// Context id of every VM's root context.
const ROOT_CONTEXT: u32 = 1;
/// Envoy's reload backoff for `FAIL_RELOAD`.
const RELOAD_BACKOFF_NS: u64 = 1_000_000_000;

/// What one callout cluster received (for assertions).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CalloutRecord {
    /// Cluster name.
    pub cluster: String,
    /// Request headers including pseudo-headers.
    pub headers: Vec<(String, String)>,
    /// Request body as text (lossy).
    pub body: String,
}

struct VmSlot {
    module: Module,
    plugin: Rc<PluginEnv>,
    vm: Option<Vm>,
    failure: Option<String>,
    reload_at_ns: u64,
    next_context: u32,
    tick_ms: u64,
    index: usize,
}

/// Where a callback runs: which filter and VM, which context, and with which stream.
#[derive(Clone)]
struct CallSite {
    filter: usize,
    vm: usize,
    context_id: u32,
    stream: Option<StreamId>,
}

/// Result of one callback into a VM.
enum Called {
    /// Returned normally (with the return value, if the export returns one).
    Returned(Option<i32>),
    /// The VM is failed (before or because of this call).
    Failed,
}

/// One simulated proxy process: VMs for every filter on the main thread and each worker,
/// shared data, metrics, logs, a virtual clock and the streams sent through it.
pub struct Proxy {
    runtime: Arc<Runtime>,
    config: ProxyConfig,
    world: Rc<RefCell<World>>,
    slots: Vec<Vec<VmSlot>>,
    now_ns: u64,
    queue: EventQueue,
    streams: Vec<Stream>,
    callouts: Vec<CalloutRecord>,
    script_cursor: std::collections::HashMap<String, usize>,
    guest_ns: u64,
}

/// Why a proxy did not start (a VM refused its configuration or failed while starting), with
/// what the filters logged until then: the error [`Proxy::new`] returns inside `anyhow`
/// (`err.downcast_ref::<StartFailed>()`).
#[derive(Debug, Clone)]
pub struct StartFailed {
    /// What failed, naming the filter.
    pub message: String,
    /// Every line logged before the failure.
    pub logs: Vec<LogLine>,
}

impl std::fmt::Display for StartFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartFailed {}

impl Proxy {
    /// Starts every VM (`on_vm_start`, `on_configure`). Fails, as Envoy refuses the config,
    /// when a module cannot be loaded, traps while starting, or rejects its configuration.
    pub fn new(runtime: Arc<Runtime>, config: ProxyConfig) -> anyhow::Result<Proxy> {
        let world = Rc::new(RefCell::new(World {
            clusters: config.clusters.keys().cloned().collect(),
            rng: 0x9E37_79B9_7F4A_7C15,
            node: config.node.clone(),
            ..World::default()
        }));
        let workers = config.workers.max(1);
        let mut slots = Vec::new();
        for (f, spec) in config.filters.iter().enumerate() {
            let module = runtime.load(&spec.wasm).with_context(|| format!("filter `{}`", spec.name))?;
            let plugin = Rc::new(PluginEnv {
                name: spec.name.clone(),
                root_id: spec.root_id.clone(),
                vm_id: spec.vm_id.clone(),
                plugin_config: spec.configuration.as_bytes().to_vec(),
                vm_config: spec.vm_configuration.as_bytes().to_vec(),
                env: spec.env.clone(),
            });
            let mut vms = Vec::new();
            for v in 0..=workers {
                let index = f * (workers + 1) + v;
                vms.push(VmSlot {
                    module: module.clone(),
                    plugin: plugin.clone(),
                    vm: None,
                    failure: None,
                    reload_at_ns: 0,
                    next_context: ROOT_CONTEXT + 1,
                    tick_ms: 0,
                    index,
                });
            }
            slots.push(vms);
        }
        let start = if config.start_time_ns == 0 { 1_767_225_600_000_000_000 } else { config.start_time_ns };
        let mut proxy = Proxy {
            runtime,
            config,
            world,
            slots,
            now_ns: start,
            queue: EventQueue::default(),
            streams: Vec::new(),
            callouts: Vec::new(),
            script_cursor: Default::default(),
            guest_ns: 0,
        };
        for f in 0..proxy.slots.len() {
            for v in 0..proxy.slots[f].len() {
                if let Err(e) = proxy.start_vm(f, v) {
                    let message = format!("filter `{}`: {e:#}", proxy.config.filters[f].name);
                    return Err(anyhow::Error::new(StartFailed { message, logs: proxy.logs() }));
                }
            }
        }
        Ok(proxy)
    }

    fn start_vm(&mut self, f: usize, v: usize) -> anyhow::Result<()> {
        let slot = &mut self.slots[f][v];
        let state = HostState::new(slot.index, slot.plugin.clone(), self.world.clone());
        let vm = self.runtime.instantiate(&slot.module, state)?;
        slot.vm = Some(vm);
        slot.failure = None;
        slot.next_context = ROOT_CONTEXT + 1;
        let (vm_config_len, plugin_config_len) =
            (slot.plugin.vm_config.len() as i32, slot.plugin.plugin_config.len() as i32);
        let root = CallSite { filter: f, vm: v, context_id: ROOT_CONTEXT, stream: None };
        self.call(&root, "proxy_on_context_create", &[ROOT_CONTEXT as i32, 0]);
        if let Called::Returned(Some(0)) = self.call(&root, "proxy_on_vm_start", &[ROOT_CONTEXT as i32, vm_config_len])
        {
            anyhow::bail!("on_vm_start returned false");
        }
        match self.call(&root, "proxy_on_configure", &[ROOT_CONTEXT as i32, plugin_config_len]) {
            Called::Returned(Some(0)) => {
                anyhow::bail!(
                    "on_configure returned false: the plugin rejected its configuration (Envoy refuses such a config)"
                )
            }
            Called::Failed => {
                let why = self.slots[f][v].failure.clone().unwrap_or_default();
                anyhow::bail!("VM failed while starting: {why}")
            }
            Called::Returned(_) => Ok(()),
        }
    }

    /// Current virtual time in ns since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.world.borrow().logs.clone()
    }

    /// Every metric defined so far.
    pub fn metrics(&self) -> Vec<Metric> {
        self.world.borrow().metrics.clone()
    }

    /// Current value of a shared-data key.
    pub fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
        self.world.borrow().shared_data.get(key).map(|(v, _)| v.clone())
    }

    /// Wall-clock time spent inside filter callbacks so far (guest code and the hostcalls it
    /// made), in ns: the filters' own cost, without the harness's stream bookkeeping.
    pub fn guest_time_ns(&self) -> u64 {
        self.guest_ns
    }

    /// What each callout cluster received, in dispatch order.
    pub fn callouts(&self) -> &[CalloutRecord] {
        &self.callouts
    }

    /// Hostcalls made so far by the VM of `filter` on `worker` (strict-order checks).
    pub fn hostcall_trace(&mut self, filter: usize, worker: usize) -> Vec<&'static str> {
        self.slots
            .get_mut(filter)
            .and_then(|vms| vms.get_mut(worker + 1))
            .and_then(|slot| slot.vm.as_mut())
            .map(|vm| vm.state().trace.clone())
            .unwrap_or_default()
    }

    /// Why the VM of `filter` on `worker` failed, if it did.
    pub fn vm_failure(&self, filter: usize, worker: usize) -> Option<String> {
        self.slots.get(filter)?.get(worker + 1)?.failure.clone()
    }

    /// Advances the virtual clock by `ms`, firing timers, queue and callout callbacks due.
    pub fn advance(&mut self, ms: u64) {
        let deadline = self.now_ns + ms * 1_000_000;
        self.run_events(deadline, None);
        self.now_ns = deadline;
    }

    /// Processes events up to `deadline_ns`; stops early when stream `until` has finished.
    fn run_events(&mut self, deadline_ns: u64, until: Option<StreamId>) {
        while until.is_none_or(|sid| self.streams[sid.0].outcome.is_none()) {
            let Some((due, event)) = self.queue.pop_due(deadline_ns) else { break };
            self.now_ns = self.now_ns.max(due);
            self.dispatch(event);
        }
    }

    fn schedule(&mut self, delay_ms: u64, event: Event) {
        self.queue.push(self.now_ns + delay_ms * 1_000_000, event);
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Tick { filter, vm } => {
                let period = self.slots[filter][vm].tick_ms;
                if period == 0 || self.slots[filter][vm].vm.is_none() {
                    return;
                }
                self.schedule(period, Event::Tick { filter, vm });
                let root = CallSite { filter, vm, context_id: ROOT_CONTEXT, stream: None };
                self.call(&root, "proxy_on_tick", &[ROOT_CONTEXT as i32]);
            }
            Event::QueueReady { filter, vm, queue_id } => {
                let root = CallSite { filter, vm, context_id: ROOT_CONTEXT, stream: None };
                self.call(&root, "proxy_on_queue_ready", &[ROOT_CONTEXT as i32, queue_id as i32]);
            }
            Event::HttpCallDone { site, token, delivery } => self.deliver_callout(site, token, delivery),
            Event::GrpcDone { site, token, status } => {
                if site.stream.is_some_and(|sid| self.streams[sid.0].outcome.is_some()) {
                    return;
                }
                self.call(&site, "proxy_on_grpc_close", &[site.context_id as i32, token as i32, status as i32]);
                self.after_stream_call(&site);
            }
            Event::Upstream { stream, response } => self.upstream_response(stream, response),
            Event::UpstreamLastChunk { stream, chunk, trailers } => self.upstream_last_chunk(stream, chunk, trailers),
        }
    }

    fn deliver_callout(&mut self, site: CallSite, token: u32, delivery: CalloutDelivery) {
        if site.stream.is_some_and(|sid| self.streams[sid.0].outcome.is_some()) {
            return; // Envoy cancels a stream's callouts when the stream ends.
        }
        let (headers, body, trailers) = (delivery.headers.len(), delivery.body.len(), delivery.trailers.len());
        if let Some(vm) = self.slots[site.filter][site.vm].vm.as_mut() {
            vm.state().callout = Some(delivery);
        }
        let args = [site.context_id as i32, token as i32, headers as i32, body as i32, trailers as i32];
        self.call(&site, "proxy_on_http_call_response", &args);
        if let Some(vm) = self.slots[site.filter][site.vm].vm.as_mut() {
            vm.state().callout = None;
        }
        self.after_stream_call(&site);
    }

    /// Calls `export` in the VM at `site`, then acts on what the guest asked for.
    fn call(&mut self, site: &CallSite, export: &'static str, args: &[i32]) -> Called {
        let stream_data = site.stream.map(|sid| self.streams[sid.0].data.clone());
        let access = site.stream.map(|sid| self.streams[sid.0].access_for(site.filter)).unwrap_or_default();
        let now = self.now_ns;
        let slot = &mut self.slots[site.filter][site.vm];
        let Some(vm) = slot.vm.as_mut() else { return Called::Failed };
        let state = vm.state();
        state.now_ns = now;
        state.context_id = site.context_id;
        state.stream = stream_data;
        state.access = access;
        let started = std::time::Instant::now();
        let result = vm.call(export, args);
        self.guest_ns += started.elapsed().as_nanos() as u64;
        let state = vm.state();
        let events = std::mem::take(&mut state.events);
        state.stream = None;
        match result {
            Ok(value) => {
                self.host_events(site, events);
                Called::Returned(value)
            }
            Err(trap) => {
                let plugin = slot.plugin.name.clone();
                slot.vm = None;
                slot.failure = Some(trap.detail.clone());
                slot.reload_at_ns = now + RELOAD_BACKOFF_NS;
                self.world.borrow_mut().logs.push(LogLine {
                    level: "error",
                    plugin,
                    message: format!("Function: {export} failed: Uncaught RuntimeError: {}", trap.reason),
                });
                Called::Failed
            }
        }
    }

    fn host_events(&mut self, site: &CallSite, events: Vec<HostEvent>) {
        for event in events {
            match event {
                HostEvent::TickPeriod { ms } => {
                    self.slots[site.filter][site.vm].tick_ms = ms;
                    if ms > 0 {
                        self.schedule(ms, Event::Tick { filter: site.filter, vm: site.vm });
                    }
                }
                HostEvent::QueueReady { queue_id } => {
                    let owner = self.world.borrow().queues.get(queue_id as usize - 1).map(|q| q.owner_vm);
                    if let Some(owner) = owner {
                        let per = self.slots.first().map_or(1, Vec::len);
                        self.schedule(0, Event::QueueReady { filter: owner / per, vm: owner % per, queue_id });
                    }
                }
                HostEvent::HttpCall { token, context_id, cluster, headers, body, timeout_ms } => {
                    let call_site = self.site_for_context(site, context_id);
                    self.callouts.push(CalloutRecord {
                        cluster: cluster.clone(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                            .collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let (delay, delivery) = match self.config.clusters.get(&cluster) {
                        Some(ClusterScript::Live(addr)) => live::call(*addr, &headers, &body, timeout_ms),
                        _ => self.callout_result(&cluster, timeout_ms),
                    };
                    self.schedule(delay, Event::HttpCallDone { site: call_site, token, delivery });
                }
                HostEvent::GrpcCall { token, context_id, cluster: _, timeout_ms: _ } => {
                    let call_site = self.site_for_context(site, context_id);
                    // Only the failure path is modelled: the cluster does not speak gRPC here.
                    self.schedule(0, Event::GrpcDone { site: call_site, token, status: 14 });
                }
                HostEvent::Continue { context_id, response } => {
                    if let Some(sid) = self.site_for_context(site, context_id).stream {
                        self.streams[sid.0].pending.push(stream::Pending::Continue { filter: site.filter, response });
                    }
                }
                HostEvent::Reset { context_id } => {
                    if let Some(sid) = self.site_for_context(site, context_id).stream {
                        self.streams[sid.0].pending.push(stream::Pending::Reset);
                    }
                }
                HostEvent::LocalReply { context_id, status, details, body, headers } => {
                    if let Some(sid) = self.site_for_context(site, context_id).stream {
                        let reply = stream::LocalReply { status, details, body, headers };
                        self.streams[sid.0].pending.push(stream::Pending::LocalReply(reply));
                    }
                }
            }
        }
    }

    /// The call site of `context_id` in the same VM (the effective context may differ from
    /// the one called, after `proxy_set_effective_context`).
    fn site_for_context(&self, site: &CallSite, context_id: u32) -> CallSite {
        if context_id == site.context_id {
            return site.clone();
        }
        let stream = self.streams.iter().position(|s| {
            s.outcome.is_none() && s.context_of(site.filter) == Some(context_id) && s.worker + 1 == site.vm
        });
        CallSite { filter: site.filter, vm: site.vm, context_id, stream: stream.map(StreamId) }
    }

    /// Delay and response for a callout to `cluster`, per its script.
    fn callout_result(&mut self, cluster: &str, timeout_ms: u64) -> (u64, CalloutDelivery) {
        let synthetic = |status: &str, body: &str| CalloutDelivery {
            headers: vec![(":status".into(), status.as_bytes().to_vec())],
            body: body.as_bytes().to_vec(),
            trailers: Vec::new(),
        };
        match self.config.clusters.get(cluster) {
            Some(ClusterScript::Responds(responses)) if !responses.is_empty() => {
                let cursor = self.script_cursor.entry(cluster.to_string()).or_insert(0);
                let response = responses[(*cursor).min(responses.len() - 1)].clone();
                *cursor += 1;
                if timeout_ms > 0 && response.delay_ms >= timeout_ms {
                    return (timeout_ms, synthetic("504", "upstream request timeout"));
                }
                let mut headers = vec![(":status".to_string(), response.status.to_string().into_bytes())];
                headers.extend(response.headers);
                (
                    response.delay_ms,
                    CalloutDelivery { headers, body: response.chunks.concat(), trailers: response.trailers },
                )
            }
            _ => (
                0,
                synthetic(
                    "503",
                    "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                ),
            ),
        }
    }

    /// Connection attributes for a new stream.
    fn stream_attributes(&self) -> std::collections::BTreeMap<String, AttrValue> {
        self.config.connection.clone()
    }

    fn new_stream_data(&self, headers: Pairs) -> StreamData {
        StreamData { request_headers: headers, attributes: self.stream_attributes(), ..StreamData::default() }
    }
}
