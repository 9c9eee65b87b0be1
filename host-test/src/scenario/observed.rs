//! What a backend saw while running a scenario, in one shape for both backends.

use crate::proxy::Outcome;
use std::collections::BTreeMap;

/// The upstream's view of one request. Header names are lowercase, pseudo-headers removed
/// and `:authority` reported as `host`, as an HTTP/1.1 server sees them.
#[derive(Debug, Clone, Default)]
pub struct UpstreamView {
    /// Cluster that received it (empty for the route's upstream).
    pub cluster: String,
    /// Method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

/// The client's view of one request, plus filter state at its end.
#[derive(Debug, Clone, Default)]
pub struct RequestView {
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Response status.
    pub status: Option<u16>,
    /// Response headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// The response body the client had when the upstream sent a held-back last chunk.
    pub body_before_last_chunk: Option<String>,
    /// What the upstream got, if anything.
    pub upstream: Option<UpstreamView>,
    /// Filter state by key (without `wasm.`).
    pub filter_state: BTreeMap<String, String>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Per request, in order.
    pub requests: Vec<RequestView>,
    /// Log lines (messages).
    pub logs: Vec<String>,
    /// Metric values by name.
    pub metrics: BTreeMap<String, i64>,
    /// Callouts received, in order.
    pub callouts: Vec<UpstreamView>,
    /// Why the chain failed to start, if it did.
    pub load_error: Option<String>,
    /// What went wrong outside the proxy (a person's action at a service the scenario runs).
    pub errors: Vec<String>,
    /// The evidence ledger, when the scenario expects something of it.
    pub ledger: Option<LedgerView>,
}

/// The evidence ledger as an auditor found it after the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerView {
    /// Request records in the exported bundle.
    pub records: u64,
    /// Approval events in it.
    pub approval_events: u64,
    /// Intent records in it.
    pub intents: u64,
    /// The bundle as exported.
    pub bundle: String,
    /// Whether `warden audit verify` accepted it, and what it printed.
    pub verified: bool,
    /// `warden audit verify`'s output.
    pub report: String,
}

/// Converts proxy-wasm style headers (with pseudo-headers) to an HTTP/1.1 server's view.
pub fn upstream_view(headers: &[(String, String)], body: String) -> UpstreamView {
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut plain: Vec<(String, String)> = vec![("host".into(), get(":authority"))];
    plain.extend(headers.iter().filter(|(k, _)| !k.starts_with(':')).cloned());
    UpstreamView { cluster: String::new(), method: get(":method"), path: get(":path"), headers: plain, body }
}
