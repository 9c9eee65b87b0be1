//! What a [`super::Proxy`] is built from: filters, clusters, upstream script, attributes.

use crate::host::state::{AttrValue, Pairs};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Envoy's `failure_policy` for a wasm filter whose VM has failed (trapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailurePolicy {
    /// Every later request on that worker gets 503 (`wasm_fail_stream`). Envoy's default.
    #[default]
    FailClosed,
    /// 503 until the reload backoff (1 s) passes, then a fresh VM.
    FailReload,
    /// Later requests bypass the filter.
    FailOpen,
}

/// One `envoy.filters.http.wasm` entry of the chain.
#[derive(Debug, Clone)]
pub struct FilterSpec {
    /// `config.name` (`plugin_name`).
    pub name: String,
    /// `config.root_id`.
    pub root_id: String,
    /// `vm_config.vm_id`.
    pub vm_id: String,
    /// Path of the `.wasm` module.
    pub wasm: PathBuf,
    /// `config.configuration` (a string, usually JSON).
    pub configuration: String,
    /// `vm_config.configuration`.
    pub vm_configuration: String,
    /// `config.failure_policy`.
    pub failure_policy: FailurePolicy,
    /// `vm_config.environment_variables.key_values`.
    pub env: Vec<(String, String)>,
}

/// A scripted HTTP response (upstream or callout cluster).
#[derive(Debug, Clone, Default)]
pub struct ScriptedResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (without `:status`).
    pub headers: Pairs,
    /// Body chunks, delivered in order (one chunk = one body callback).
    pub chunks: Vec<Vec<u8>>,
    /// Trailers, if any.
    pub trailers: Pairs,
    /// Delay before the response starts, in milliseconds of virtual time.
    pub delay_ms: u64,
    /// With two or more chunks: the last chunk (and the end of the body) comes this many
    /// milliseconds of virtual time after the others; 0: all at once.
    pub hold_last_chunk_ms: u64,
}

/// How a callout cluster behaves.
#[derive(Debug, Clone)]
pub enum ClusterScript {
    /// Answers with these responses in turn (the last one repeats).
    Responds(Vec<ScriptedResponse>),
    /// Refuses connections: callouts complete with a synthetic 503 (gRPC: UNAVAILABLE).
    Down,
    /// A real HTTP server on loopback (a service the scenario runs): each callout is sent to
    /// it and waited for in real time; the virtual clock moves on by the time it took.
    Live(std::net::SocketAddr),
}

/// Everything a [`super::Proxy`] is built from.
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    /// Filters in request order.
    pub filters: Vec<FilterSpec>,
    /// Worker threads (each gets its own VM per filter, plus one on the main thread).
    pub workers: usize,
    /// Callout clusters by name; a name not listed is unknown (refused synchronously).
    pub clusters: BTreeMap<String, ClusterScript>,
    /// The route's upstream; `None` means the caller answers with [`super::Proxy::respond`].
    pub upstream: Option<ScriptedResponse>,
    /// Node attributes (`xds.node.id`, ...).
    pub node: BTreeMap<String, AttrValue>,
    /// Connection attributes every stream gets (`source.address`, `connection.mtls`, ...).
    pub connection: BTreeMap<String, AttrValue>,
    /// Route timeout in ms (Envoy's default 15 s; the generated Envoy configs use this value).
    pub route_timeout_ms: u64,
    /// Virtual start time, ns since the epoch.
    pub start_time_ns: u64,
}
