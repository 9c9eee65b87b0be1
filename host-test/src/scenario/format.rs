//! The scenario file format (`*.scenario.yaml`). Unknown fields are errors, so a typo never
//! silently turns an assertion off. Documented in `host-test/README.md`.

use crate::proxy::{FailurePolicy, Outcome};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One scenario: a filter chain, what talks to it, and what must be seen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows (printed on failure).
    #[serde(default)]
    pub description: String,
    /// Backends it runs on; default both. Restricting it requires `reason`.
    #[serde(default)]
    pub backends: Option<Vec<Backend>>,
    /// Why a scenario is restricted to one backend.
    #[serde(default)]
    pub reason: Option<String>,
    /// How Warden is packaged for the run: `module` (the filters as written, one
    /// `warden_<stage>.wasm` each) and/or `suite` (each run of consecutive Warden stage modules
    /// merged into one `warden.wasm` filter listing those stages). Default: `[module]`. A
    /// scenario listing both runs once per packaging.
    #[serde(default = "as_written")]
    pub packagings: Vec<Packaging>,
    /// The wasm filters, in request order.
    pub filters: Vec<FilterDef>,
    /// Worker threads (Envoy `--concurrency`); default 1.
    #[serde(default = "one")]
    pub workers: usize,
    /// Node identity (`xds.node.id` / `xds.node.cluster`).
    #[serde(default)]
    pub node: NodeDef,
    /// Callout clusters by name.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterDef>,
    /// The route's upstream; default `200` with an empty body.
    #[serde(default)]
    pub upstream: ResponseDef,
    /// Mutual TLS: when set, the listener requires TLS with a client certificate and every
    /// request presents one with these details (issued at run time by a throwaway CA). The
    /// filters see `connection.mtls` true and the certificate's URI SAN. Default: plaintext.
    #[serde(default)]
    pub client_certificate: Option<ClientCertificateDef>,
    /// Route timeout in ms; default 3000.
    #[serde(default = "route_timeout")]
    pub route_timeout_ms: u64,
    /// Requests, sent one after another on one proxy.
    #[serde(default)]
    pub requests: Vec<RequestDef>,
    /// Assertions over the whole run.
    #[serde(default)]
    pub expect: RunExpect,
}

/// The client certificate of a mutual-TLS scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCertificateDef {
    /// URI SAN, e.g. `spiffe://example.org/ns/default/sa/agent`.
    pub uri_san: String,
}

fn one() -> usize {
    1
}

fn as_written() -> Vec<Packaging> {
    vec![Packaging::Module]
}

/// How the Warden stages of a scenario are packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Packaging {
    /// The filters as written: each stage its own module and VM, cooperating through filter
    /// state.
    Module,
    /// Consecutive stage modules merged into `warden.wasm` (one VM, facts in memory).
    Suite,
    /// The suite's stages as `warden_component.wasm`, a `wasi:http` component served as
    /// `wasmtime serve` serves it (harness backend only). Only for scenarios whose filters are
    /// Warden stages alone and that check nothing Envoy-only (filter state, mTLS, streaming,
    /// trailers, a configuration rejected at load).
    Component,
}

impl Packaging {
    /// The name used in `packagings` and in result lines.
    pub fn name(self) -> &'static str {
        match self {
            Packaging::Module => "module",
            Packaging::Suite => "suite",
            Packaging::Component => "component",
        }
    }
}

fn route_timeout() -> u64 {
    3000
}

/// A backend that runs scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The wasmtime harness.
    Harness,
    /// A real Envoy 1.40 on loopback.
    Envoy,
}

/// One `envoy.filters.http.wasm` filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDef {
    /// `.wasm` file: a path relative to the scenario, or an artifact name looked up in the
    /// wasm directory (`--wasm-dir`, `WARDEN_WASM_DIR`, default `target/wasm32-wasip1/wasm`).
    pub wasm: String,
    /// Plugin name; default: the wasm file stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Root id; default: the plugin name.
    #[serde(default)]
    pub root_id: Option<String>,
    /// VM id; default: the plugin name.
    #[serde(default)]
    pub vm_id: Option<String>,
    /// Plugin configuration: a string as is, anything else as JSON.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// VM configuration, same rules as `config`.
    #[serde(default)]
    pub vm_config: Option<serde_json::Value>,
    /// `failure_policy`; default `FAIL_CLOSED`.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Environment variables given to the VM.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Node identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDef {
    /// `xds.node.id`; default `warden-test-node`.
    #[serde(default = "node_id")]
    pub id: String,
    /// `xds.node.cluster`; default `warden-test`.
    #[serde(default = "node_cluster")]
    pub cluster: String,
}

impl Default for NodeDef {
    fn default() -> Self {
        NodeDef { id: node_id(), cluster: node_cluster() }
    }
}

fn node_id() -> String {
    "warden-test-node".into()
}

fn node_cluster() -> String {
    "warden-test".into()
}

/// A callout cluster.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterDef {
    /// Refuses connections (callouts get a synthetic 503).
    #[serde(default)]
    pub down: bool,
    /// A real Warden service the runner starts for the scenario (`approvals`: `warden serve`
    /// on loopback with SQLite; see `host-test/README.md`) instead of a script.
    #[serde(default)]
    pub service: Option<ServiceKind>,
    /// Responses in turn; the last repeats. Default: one `200` with an empty body.
    #[serde(default)]
    pub responses: Vec<ResponseDef>,
}

/// A service the runner can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// The approval service.
    Approvals,
}

/// Stopping or starting the scenario's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    /// Killed, as a crash.
    Stop,
    /// Started again.
    Start,
}

/// A person acting at the approval service while (or before) a request runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonAct {
    /// The person's subject (their token is minted by the runner's test issuer).
    #[serde(rename = "as")]
    pub subject: String,
    /// Their groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `agent` makes the token an agent's.
    #[serde(default)]
    pub kind: Option<String>,
    /// `approve`, `deny`, `force_approve` or `force_deny`.
    pub decision: String,
    /// The reason sent with the decision (required for a deny and a forced decision).
    #[serde(default)]
    pub reason: Option<String>,
    /// Real milliseconds after the request is sent (ignored in `people_before`).
    #[serde(default)]
    pub after_ms: u64,
    /// The service's answer status the scenario expects (default 200).
    #[serde(default = "ok")]
    pub expect_status: u16,
}

/// A scripted HTTP response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseDef {
    /// Status; default 200.
    #[serde(default = "ok")]
    pub status: u16,
    /// Response headers, in order.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body (one chunk).
    #[serde(default)]
    pub body: Option<String>,
    /// Body in several chunks (sent chunked).
    #[serde(default)]
    pub chunks: Option<Vec<String>>,
    /// Delay before answering, ms.
    #[serde(default)]
    pub delay_ms: u64,
    /// With two or more `chunks`: send the last one this many ms after the others (virtual
    /// time in the harness; in Envoy, real time, cut short once the client has what the
    /// request's `expect.streamed` asks for). Shows whether a response streams through.
    #[serde(default)]
    pub hold_last_chunk_ms: u64,
}

impl Default for ResponseDef {
    fn default() -> Self {
        ResponseDef {
            status: 200,
            headers: BTreeMap::new(),
            body: None,
            chunks: None,
            delay_ms: 0,
            hold_last_chunk_ms: 0,
        }
    }
}

fn ok() -> u16 {
    200
}

impl ResponseDef {
    /// The body as chunks.
    pub fn body_chunks(&self) -> Vec<Vec<u8>> {
        match (&self.chunks, &self.body) {
            (Some(chunks), _) => chunks.iter().map(|c| c.as_bytes().to_vec()).collect(),
            (None, Some(body)) if !body.is_empty() => vec![body.as_bytes().to_vec()],
            _ => Vec::new(),
        }
    }
}

/// One request from the downstream client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    /// What this request checks (printed on failure).
    #[serde(default)]
    pub name: Option<String>,
    /// Method; default GET.
    #[serde(default = "get")]
    pub method: String,
    /// Path with query; default `/`.
    #[serde(default = "slash")]
    pub path: String,
    /// Host; default `example.com`.
    #[serde(default = "host")]
    pub authority: String,
    /// Headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body (sent with content-length).
    #[serde(default)]
    pub body: Option<String>,
    /// Body in chunks (sent chunked).
    #[serde(default)]
    pub chunks: Option<Vec<String>>,
    /// Request trailers (the body is then sent chunked).
    #[serde(default)]
    pub trailers: Vec<(String, String)>,
    /// Wait this long (virtual ms in the harness, real ms in Envoy) before sending.
    #[serde(default)]
    pub wait_ms: u64,
    /// People acting on the newest pending approval before the request is sent (with a
    /// `service: approvals` cluster). Request headers may use `{{approval_id}}`: the id of the
    /// approval a person last acted on, or that the last response named.
    #[serde(default)]
    pub people_before: Vec<PersonAct>,
    /// What happens to the scenario's `service: approvals` (`warden serve`) before this
    /// request: `stop` kills it, `start` starts it again on the same port and database.
    #[serde(default)]
    pub service: Option<ServiceAction>,
    /// People acting on the newest pending approval while the request runs (after their
    /// `after_ms`): how a held request gets decided.
    #[serde(default)]
    pub people: Vec<PersonAct>,
    /// Client timeout; default 3000 ms.
    #[serde(default = "client_timeout")]
    pub timeout_ms: u64,
    /// What must be seen.
    #[serde(default)]
    pub expect: RequestExpect,
}

fn get() -> String {
    "GET".into()
}

fn slash() -> String {
    "/".into()
}

fn host() -> String {
    "example.com".into()
}

fn client_timeout() -> u64 {
    3000
}

/// Assertions about one request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExpect {
    /// How the stream ends; default `complete`.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Response status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Response headers (subset; `null` = absent).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<Matcher>>,
    /// Response body.
    #[serde(default)]
    pub body: Option<Matcher>,
    /// The response body the client had already received when the upstream sent its held-back
    /// last chunk (`upstream.hold_last_chunk_ms`): proof that it streamed through the filters.
    #[serde(default)]
    pub streamed: Option<Matcher>,
    /// What the upstream received; `reached: false` for "never got the request".
    #[serde(default)]
    pub upstream: Option<UpstreamExpect>,
    /// Filter state at the end (keys without the `wasm.` prefix; `null` = absent).
    #[serde(default)]
    pub filter_state: BTreeMap<String, Option<Matcher>>,
}

/// Assertions about what the upstream received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamExpect {
    /// Whether the request reached the upstream at all; default true.
    #[serde(default)]
    pub reached: Option<bool>,
    /// The method the upstream must have seen (exact).
    #[serde(default)]
    pub method: Option<String>,
    /// The path (and query) the upstream must have seen.
    #[serde(default)]
    pub path: Option<Matcher>,
    /// Headers (subset; `null` = absent). `host` is the authority.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<Matcher>>,
    /// The body the upstream must have received.
    #[serde(default)]
    pub body: Option<Matcher>,
}

/// Assertions about the whole run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunExpect {
    /// Each must match some log line.
    #[serde(default)]
    pub logs: Vec<Matcher>,
    /// None may match any log line.
    #[serde(default)]
    pub no_logs: Vec<Matcher>,
    /// Metric values by name.
    #[serde(default)]
    pub metrics: BTreeMap<String, i64>,
    /// What callout clusters received, in order (a prefix of the list).
    #[serde(default)]
    pub callouts: Vec<CalloutExpect>,
    /// The chain must fail to start (config rejected, bad module) with this message.
    #[serde(default)]
    pub load_error: Option<Matcher>,
    /// What the evidence ledger of the scenario's `service: approvals` cluster (`warden
    /// serve`) must hold once the proxy has shipped its records.
    #[serde(default)]
    pub ledger: Option<LedgerExpect>,
}

/// The evidence ledger after the run: exported with `warden audit export` and checked with
/// `warden audit verify` against the ledger's published key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExpect {
    /// Request records (one per request the proxy saw).
    pub records: u64,
    /// Approval events (at least).
    #[serde(default)]
    pub approval_events: u64,
    /// Intent records of strict routes.
    #[serde(default)]
    pub intents: u64,
    /// Text that must appear nowhere in the exported bundle (tokens, secrets, masked values).
    #[serde(default)]
    pub excludes: Vec<String>,
}

/// Assertions about one callout.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalloutExpect {
    /// Cluster name.
    pub cluster: String,
    /// The callout's method (exact).
    #[serde(default)]
    pub method: Option<String>,
    /// The callout's path.
    #[serde(default)]
    pub path: Option<Matcher>,
    /// Headers (subset).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<Matcher>>,
    /// The callout's body.
    #[serde(default)]
    pub body: Option<Matcher>,
}

/// How an expected string is compared: exactly (a plain string or number), or by a rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Matcher {
    /// Exact text.
    Text(String),
    /// A number compared as its decimal text.
    Number(i64),
    /// `{contains: ...}`, `{matches: regex}` or `{prefix: ...}`.
    Rule(Rule),
}

/// A non-exact comparison.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Substring.
    #[serde(default)]
    pub contains: Option<String>,
    /// Regular expression (Rust `regex` syntax).
    #[serde(default)]
    pub matches: Option<String>,
    /// Prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Substrings that must not appear (e.g. a secret that must never be recorded).
    #[serde(default)]
    pub excludes: Vec<String>,
}

impl Matcher {
    /// Whether `actual` satisfies this matcher. An invalid regex never matches.
    pub fn accepts(&self, actual: &str) -> bool {
        match self {
            Matcher::Text(text) => actual == text,
            Matcher::Number(n) => actual == n.to_string(),
            Matcher::Rule(rule) => {
                rule.contains.as_ref().is_none_or(|c| actual.contains(c.as_str()))
                    && rule.prefix.as_ref().is_none_or(|p| actual.starts_with(p.as_str()))
                    && rule.matches.as_ref().is_none_or(|m| regex::Regex::new(m).is_ok_and(|re| re.is_match(actual)))
                    && rule.excludes.iter().all(|e| !actual.contains(e.as_str()))
            }
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Text(text) => write!(f, "{text:?}"),
            Matcher::Number(n) => write!(f, "{n}"),
            Matcher::Rule(rule) => {
                let mut parts = Vec::new();
                if let Some(c) = &rule.contains {
                    parts.push(format!("contains {c:?}"));
                }
                for e in &rule.excludes {
                    parts.push(format!("excludes {e:?}"));
                }
                if let Some(m) = &rule.matches {
                    parts.push(format!("matches /{m}/"));
                }
                if let Some(p) = &rule.prefix {
                    parts.push(format!("starts with {p:?}"));
                }
                write!(f, "{}", parts.join(" and "))
            }
        }
    }
}

/// Plugin configuration text: strings as is, other values as compact JSON.
pub fn config_text(value: &Option<serde_json::Value>) -> String {
    match value {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
