//! Host-side state: per-VM (`HostState`, the wasmtime `Store` data), per scenario run
//! (`World`: shared data, queues, metrics, logs — what one Envoy process shares across its
//! VMs) and per request stream (`StreamData`, shared by every filter of a chain).

use super::abi::MetricKind;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use wasmtime::{Memory, TypedFunc};

/// Header pairs as the host keeps them: lowercase names, raw values.
pub type Pairs = Vec<(String, Vec<u8>)>;

/// The plugin as Envoy's `envoy.filters.http.wasm` config describes it.
#[derive(Debug, Clone, Default)]
pub struct PluginEnv {
    /// `config.name` (property `plugin_name`).
    pub name: String,
    /// `config.root_id`.
    pub root_id: String,
    /// `vm_config.vm_id`.
    pub vm_id: String,
    /// `config.configuration` bytes.
    pub plugin_config: Vec<u8>,
    /// `vm_config.configuration` bytes.
    pub vm_config: Vec<u8>,
    /// `vm_config.environment_variables.key_values`.
    pub env: Vec<(String, String)>,
}

/// One line a guest logged (`proxy_log` or WASI stdout/stderr).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    /// `trace` .. `critical`.
    pub level: &'static str,
    /// The plugin's name.
    pub plugin: String,
    /// The message as logged.
    pub message: String,
}

/// A shared queue registered by a root context.
#[derive(Debug)]
pub struct Queue {
    /// Registering VM (index into the run's VMs).
    pub owner_vm: usize,
    /// `vm_id` of the registering plugin.
    pub vm_id: String,
    /// Queue name.
    pub name: String,
    /// Pending items.
    pub items: VecDeque<Vec<u8>>,
}

/// A metric defined by a guest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Metric {
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Name as defined by the guest.
    pub name: String,
    /// Counter or gauge value.
    pub value: i64,
    /// Histogram samples.
    pub samples: Vec<u64>,
}

/// What one proxy process shares across VMs: shared data, queues, metrics, logs.
#[derive(Debug, Default)]
pub struct World {
    /// key → (value, cas).
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    /// Queues by id − 1.
    pub queues: Vec<Queue>,
    /// Metrics by id − 1.
    pub metrics: Vec<Metric>,
    /// Every log line in order.
    pub logs: Vec<LogLine>,
    /// Cluster names a callout may target (others are refused synchronously).
    pub clusters: Vec<String>,
    /// State of the deterministic random generator behind WASI `random_get`.
    pub rng: u64,
    /// Last callout token handed out.
    pub next_token: u32,
    /// Node-level attributes (`xds.node.id`, `xds.node.cluster`, ...), visible in every context.
    pub node: BTreeMap<String, AttrValue>,
}

impl World {
    /// Next pseudo-random 64 bits (xorshift; deterministic per run).
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Connection and request attributes a stream exposes through `proxy_get_property`.
pub type Attributes = BTreeMap<String, AttrValue>;

/// A typed attribute value, encoded as Envoy encodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Raw UTF-8.
    Str(String),
    /// 8-byte little-endian.
    Int(i64),
    /// One byte.
    Bool(bool),
}

impl AttrValue {
    /// The bytes `proxy_get_property` returns.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            AttrValue::Str(s) => s.as_bytes().to_vec(),
            AttrValue::Int(i) => i.to_le_bytes().to_vec(),
            AttrValue::Bool(b) => vec![u8::from(*b)],
        }
    }
}

/// One request stream, shared by every filter in the chain.
#[derive(Debug, Default)]
pub struct StreamData {
    /// Request headers, pseudo-headers first.
    pub request_headers: Pairs,
    /// Request trailers.
    pub request_trailers: Pairs,
    /// Response headers (empty until the response starts).
    pub response_headers: Pairs,
    /// Response trailers.
    pub response_trailers: Pairs,
    /// Body buffered at the filter being called (request direction).
    pub request_body: Vec<u8>,
    /// Body buffered at the filter being called (response direction).
    pub response_body: Vec<u8>,
    /// Filter state: `wasm.<key>` → value.
    pub filter_state: BTreeMap<String, Vec<u8>>,
    /// Connection/request attributes (`source.address`, `connection.mtls`, ...).
    pub attributes: Attributes,
    /// Whether response headers exist yet (the response map is readable).
    pub response_started: bool,
}

/// Which stream maps the filter being called can reach right now. As in Envoy 1.40, a header
/// map is there only while the filter is in (or paused in) that map's headers phase; after it
/// returned Continue, reads and writes get `BadArgument`. `on_log` reads both header maps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Access {
    /// Request headers reachable (this filter has not passed its request headers phase).
    pub request_headers: bool,
    /// Response headers reachable.
    pub response_headers: bool,
    /// In `on_log`: header maps readable, not writable.
    pub log_phase: bool,
    /// Request trailers changeable.
    pub request_trailers: bool,
    /// Response trailers changeable.
    pub response_trailers: bool,
}

/// A callout response being delivered to `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub struct CalloutDelivery {
    /// Headers including `:status`.
    pub headers: Pairs,
    /// Body.
    pub body: Vec<u8>,
    /// Trailers.
    pub trailers: Pairs,
}

/// Something a guest asked for that the stream runner must act on after the callback.
#[derive(Debug, Clone)]
pub enum HostEvent {
    /// `proxy_continue_stream`.
    Continue {
        /// Context that asked.
        context_id: u32,
        /// true for the response direction.
        response: bool,
    },
    /// `proxy_close_stream` (reset).
    Reset {
        /// Context that asked.
        context_id: u32,
    },
    /// `proxy_send_local_response`.
    LocalReply {
        /// Context that asked.
        context_id: u32,
        /// HTTP status.
        status: u32,
        /// Response code details.
        details: String,
        /// Body.
        body: Vec<u8>,
        /// Extra headers.
        headers: Pairs,
    },
    /// `proxy_http_call` accepted.
    HttpCall {
        /// Token returned to the guest.
        token: u32,
        /// Context that dispatched it.
        context_id: u32,
        /// Target cluster.
        cluster: String,
        /// Request headers (with pseudo-headers).
        headers: Pairs,
        /// Request body.
        body: Vec<u8>,
        /// Timeout in milliseconds.
        timeout_ms: u64,
    },
    /// `proxy_grpc_call` accepted.
    GrpcCall {
        /// Token returned to the guest.
        token: u32,
        /// Context that dispatched it.
        context_id: u32,
        /// Target cluster.
        cluster: String,
        /// Timeout in milliseconds.
        timeout_ms: u64,
    },
    /// `proxy_set_tick_period_milliseconds`.
    TickPeriod {
        /// New period; 0 stops the timer.
        ms: u64,
    },
    /// An item was enqueued on a queue: its owner's `proxy_on_queue_ready` is due.
    QueueReady {
        /// Queue id.
        queue_id: u32,
    },
}

/// The wasmtime `Store` data of one VM.
pub struct HostState {
    /// Index of this VM in the run.
    pub vm_index: usize,
    /// The plugin this VM runs.
    pub plugin: Rc<PluginEnv>,
    /// State shared by every VM of the run.
    pub world: Rc<RefCell<World>>,
    /// The stream of the context being called, if any.
    pub stream: Option<Rc<RefCell<StreamData>>>,
    /// What may be changed right now.
    pub access: Access,
    /// HTTP callout response being delivered.
    pub callout: Option<CalloutDelivery>,
    /// gRPC message being delivered.
    pub grpc_message: Option<Vec<u8>>,
    /// Context the guest is running in.
    pub context_id: u32,
    /// Virtual clock, nanoseconds since the Unix epoch.
    pub now_ns: u64,
    /// Requests for the runner, drained after each callback.
    pub events: Vec<HostEvent>,
    /// Names of the hostcalls made, in order (for strict checks and debugging).
    pub trace: Vec<&'static str>,
    /// The guest's exported memory.
    pub memory: Option<Memory>,
    /// The guest's allocator (`proxy_on_memory_allocate` or `malloc`).
    pub alloc: Option<TypedFunc<i32, i32>>,
}

impl HostState {
    /// Fresh state for a VM of `plugin`.
    pub fn new(vm_index: usize, plugin: Rc<PluginEnv>, world: Rc<RefCell<World>>) -> Self {
        HostState {
            vm_index,
            plugin,
            world,
            stream: None,
            access: Access::default(),
            callout: None,
            grpc_message: None,
            context_id: 0,
            now_ns: 0,
            events: Vec::new(),
            trace: Vec::new(),
            memory: None,
            alloc: None,
        }
    }

    /// State for a store that never runs a guest (used to list the linker's imports).
    pub fn placeholder() -> Self {
        Self::new(0, Rc::default(), Rc::default())
    }

    /// Records a log line from this VM.
    pub fn log(&self, level: &'static str, message: String) {
        self.world.borrow_mut().logs.push(LogLine { level, plugin: self.plugin.name.clone(), message });
    }
}
