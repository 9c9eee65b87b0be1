//! The per-request facts contract: what one stage tells the next, under documented keys.
//!
//! Each fact is a versioned JSON object (`"v": 1`) stored in filter state under its key
//! (Envoy shows it as `wasm.<key>`, e.g. `%FILTER_STATE(wasm.warden.identity:PLAIN)%`).
//! In the suite the same values pass in memory and are also exported to filter state.
//! Facts never contain secrets: no tokens, credentials, or masked values.
//! The shapes are documented in `filters/kit/README.md`.

pub use crate::approval_api::Requirement;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

/// A documented fact key and the shape stored under it: reads and writes through a key are
/// typed, so a stage cannot store one shape under another's key or read it as the wrong one.
pub struct FactKey<T> {
    name: &'static str,
    version: Option<u32>,
    shape: PhantomData<fn() -> T>,
}

impl<T> FactKey<T> {
    /// A key named `name` (Envoy shows it as `wasm.<name>`) holding a `T` without a version
    /// (a plain value such as the request id).
    pub const fn new(name: &'static str) -> Self {
        FactKey { name, version: None, shape: PhantomData }
    }

    /// A key holding a `T` whose JSON carries `"v": version`: a reader built for another
    /// version finds the fact [`FactRead::Unreadable`], not absent.
    pub const fn versioned(name: &'static str, version: u32) -> Self {
        FactKey { name, version: Some(version), shape: PhantomData }
    }

    /// The key's name, e.g. `warden.identity`.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for FactKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for FactKey<T> {}

impl<T> std::fmt::Debug for FactKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FactKey({})", self.name)
    }
}

/// A partial reading of a fact's shape: the fields one stage needs (for example the masking
/// stage reads only the `mask` obligations of [`DecisionFact`]). Declaring it ties the view to
/// the shape, so it can only be read through that shape's key.
pub trait ViewOf<T>: for<'de> Deserialize<'de> {}

/// Request id shared by every stage and the audit record (`x-request-id`); in memory only.
pub const REQUEST_ID: FactKey<String> = FactKey::new("warden.request_id");
/// Who is calling: [`IdentityFact`].
pub const IDENTITY: FactKey<IdentityFact> = FactKey::versioned("warden.identity", VERSION);
/// What policy decided: [`DecisionFact`].
pub const DECISION: FactKey<DecisionFact> = FactKey::versioned("warden.decision", VERSION);
/// What a human approver said: [`ApprovalFact`].
pub const APPROVAL: FactKey<ApprovalFact> = FactKey::versioned("warden.approval", VERSION);
/// What was hidden: [`MaskingFact`].
pub const MASKING: FactKey<MaskingFact> = FactKey::versioned("warden.masking", VERSION);
/// Every documented key's name.
pub const ALL_KEYS: [&str; 5] = [REQUEST_ID.name, IDENTITY.name, DECISION.name, APPROVAL.name, MASKING.name];

/// Version of the shapes below.
pub const VERSION: u32 = 1;

/// Kind of caller.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A person.
    Human,
    /// An AI agent.
    Agent,
    /// A workload or service.
    Service,
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// A bearer JWT verified against a provider's keys (`jwt`).
    Jwt,
    /// A client certificate's SPIFFE id, verified by the proxy's TLS (`mtls`).
    Mtls,
    /// A configured API key (`api_key`).
    ApiKey,
}

impl IdentityMethod {
    /// The name in facts and records (`jwt`, `mtls`, `api_key`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMethod::Jwt => "jwt",
            IdentityMethod::Mtls => "mtls",
            IdentityMethod::ApiKey => "api_key",
        }
    }
}

/// The caller's SPIFFE id: its subject when it authenticated with a client certificate whose
/// URI SAN is a `spiffe://` id; `None` otherwise. The one rule for `from.spiffe` in records.
pub fn spiffe_id(method: IdentityMethod, subject: &str) -> Option<&str> {
    (method == IdentityMethod::Mtls && subject.starts_with("spiffe://")).then_some(subject)
}

/// One party in a delegation chain (RFC 8693 `act`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Subject identifier of this party (e.g. `agent:assistant`).
    pub subject: String,
    /// Whether this party is a person, an agent or a service.
    pub kind: SubjectKind,
}

/// `warden.identity`: the verified caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityFact {
    /// Shape version ([`VERSION`]).
    pub v: u32,
    /// Subject (the person or workload the request is for).
    pub subject: String,
    /// Issuer (token issuer, trust domain, or `api_key`).
    pub issuer: String,
    /// Kind of subject.
    pub kind: SubjectKind,
    /// Who actually acts (an agent acting for the subject), outermost first; empty if none.
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Groups or roles.
    #[serde(default)]
    pub groups: Vec<String>,
    /// OAuth scopes the credential carried (`scope`, `scp`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How the caller authenticated: `jwt`, `mtls`, `api_key`.
    pub method: IdentityMethod,
    /// Credential expiry, seconds since the epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Selected non-secret claims.
    #[serde(default)]
    pub claims: BTreeMap<String, Value>,
}

impl IdentityFact {
    /// The caller's SPIFFE id, if it authenticated with one (see [`spiffe_id`]).
    pub fn spiffe_id(&self) -> Option<&str> {
        spiffe_id(self.method, &self.subject)
    }
}

/// What policy decided for a request (`effect` in [`DecisionFact`]). Not to be confused with
/// [`crate::Effect`], what a stage asks the proxy to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Let it through (with any obligations, e.g. masking).
    Allow,
    /// Refuse it.
    Deny,
    /// Hold it until a human approves.
    RequireApproval,
}

/// What a rule would do, as recorded for dry-run rules and explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEffect {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
    /// Require approval.
    RequireApproval,
    /// Only record that the rule matched.
    Log,
}

/// Masking to apply: a profile of the masking stage, on the request and/or the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskObligation {
    /// Masking profile name.
    pub profile: String,
    /// Mask the request body (e.g. a prompt bound for an LLM).
    #[serde(default)]
    pub request: bool,
    /// Mask the response body.
    #[serde(default)]
    pub response: bool,
}

/// Whether the request waits for the approval (`hold`) or is answered at once with a pending
/// approval the caller retries with (`deferred`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Hold the request until approved, denied or `hold_timeout_ms`.
    Hold,
    /// Answer 202 with the approval id; a retry after approval goes through.
    Deferred,
}

/// The approval a `require_approval` decision needs: who must approve and in what time (the
/// approval service's [`Requirement`], sent to it as is) and how the proxy waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequirement {
    /// Who must approve, how many, for how long (serialized inline: `groups`, `users`,
    /// `min_approvals`, `all_groups`, `deny_threshold`, `pending_ttl_secs` (read also as
    /// `ttl_secs`, its name before the API's type was shared), `use_by_secs`,
    /// `max_auth_age_secs`).
    #[serde(flatten)]
    pub approvers: Requirement,
    /// Hold or deferred.
    pub mode: ApprovalMode,
    /// How long a held request waits, ms.
    pub hold_timeout_ms: u64,
}

/// Default `use_by_secs`: five minutes to use an approval.
pub const DEFAULT_USE_BY_SECS: u64 = 300;

/// A dry-run rule that matched: what it would have done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunOutcome {
    /// Rule id.
    pub rule: String,
    /// Its would-be effect.
    pub effect: RuleEffect,
}

/// `warden.decision`: what policy decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionFact {
    /// Shape version.
    pub v: u32,
    /// The decision.
    pub effect: Verdict,
    /// Ids of the rules that decided (empty when the policy default decided).
    pub rules: Vec<String>,
    /// Why, one short line per deciding rule (no secrets).
    pub reasons: Vec<String>,
    /// Policy version: `sha256:` and the 64 hex digits of the SHA-256 of the policy's
    /// canonical JSON (see `filters/policy/README.md`); the same on every platform and build.
    pub policy: String,
    /// Masking obligations (with `allow` or `require_approval`).
    #[serde(default)]
    pub mask: Vec<MaskObligation>,
    /// The approval needed (with `require_approval`).
    #[serde(default)]
    pub approval: Option<ApprovalRequirement>,
    /// Dry-run rules that matched, and what they would have done.
    #[serde(default)]
    pub dry_run: Vec<DryRunOutcome>,
    /// Rules with effect `log` that matched.
    #[serde(default)]
    pub logged: Vec<String>,
    /// What the body asked for, as far as a rule made the policy read it (MCP calls, SQL);
    /// absent when no rule read the body. For the audit record; never argument values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionFact>,
}

/// What a request's body asked for, as the policy read it (names and classes only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFact {
    /// JSON-RPC (MCP) calls of the body, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp: Vec<McpAction>,
    /// SQL the body carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlAction>,
}

/// One JSON-RPC call: method, tool and the names (never the values) of its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpAction {
    /// JSON-RPC method (`tools/call`).
    pub method: String,
    /// Tool of a `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Argument names, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
}

/// SQL statement class: what a statement does, each counted at the most powerful thing
/// anywhere inside it. Ordered from least to most powerful.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlClass {
    /// SELECT and other reads.
    Read,
    /// INSERT, UPDATE, DELETE, MERGE, COPY.
    Write,
    /// CREATE, ALTER, DROP, TRUNCATE, RENAME.
    Ddl,
    /// GRANT, REVOKE.
    Dcl,
}

impl SqlClass {
    /// The name in facts and records (`read`, `write`, `ddl`, `dcl`).
    pub fn as_str(self) -> &'static str {
        match self {
            SqlClass::Read => "read",
            SqlClass::Write => "write",
            SqlClass::Ddl => "ddl",
            SqlClass::Dcl => "dcl",
        }
    }

    /// `classes` as `read,write` (joined by `separator`).
    pub fn join(classes: &[SqlClass], separator: &str) -> String {
        classes.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(separator)
    }
}

/// SQL statements' classes and tables (union over what the policy classified).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlAction {
    /// Classes (`read`, `write`, `ddl`, `dcl`), sorted.
    pub classes: Vec<SqlClass>,
    /// Tables (lowercase, unqualified), sorted.
    pub tables: Vec<String>,
    /// Some statement is destructive.
    pub destructive: bool,
    /// Whether the text was fully understood (if not, classes and destructiveness are the most
    /// restrictive reading).
    pub parsed: bool,
    /// Why the classes are what they are beyond each statement's kind (a write nested in a
    /// read, a function not known to be free of effects) or why the text was not understood.
    /// Absent when there is nothing to say (added in fact version 1 without a bump: readers
    /// that do not know it ignore it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// Outcome of an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Approved, and used by this request.
    Approved,
    /// A human refused.
    Denied,
    /// Asked for; the caller was answered with the id to come back with (deferred).
    Pending,
    /// A held request was not decided within `hold_timeout` (the caller got the id).
    Timeout,
    /// The approval could not be used for this request (`code`: `approval_pending`,
    /// `approval_expired`, `approval_used`, `approval_mismatch`).
    Refused,
    /// The approval service failed (the request was refused).
    Error,
}

/// Why the approval stage did not let a request go on (or that it is pending): the `code`
/// of [`ApprovalFact`] and of the stage's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalCode {
    /// No verified requester: an approval needs one.
    ApprovalRequiresIdentity,
    /// Not decided yet (deferred, or a hold that timed out).
    ApprovalPending,
    /// A person denied it (or it was cancelled).
    ApprovalDenied,
    /// Not decided, or not used, in time.
    ApprovalExpired,
    /// Already used: an approval is good for one request.
    ApprovalUsed,
    /// For another action or another requester, or no such approval.
    ApprovalMismatch,
    /// The approval service failed; the request was refused.
    ApprovalServiceUnavailable,
}

impl ApprovalCode {
    /// The code as written (`approval_denied`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalCode::ApprovalRequiresIdentity => "approval_requires_identity",
            ApprovalCode::ApprovalPending => "approval_pending",
            ApprovalCode::ApprovalDenied => "approval_denied",
            ApprovalCode::ApprovalExpired => "approval_expired",
            ApprovalCode::ApprovalUsed => "approval_used",
            ApprovalCode::ApprovalMismatch => "approval_mismatch",
            ApprovalCode::ApprovalServiceUnavailable => "approval_service_unavailable",
        }
    }
}

impl From<crate::approval_api::ConsumeRefusal> for ApprovalCode {
    fn from(refusal: crate::approval_api::ConsumeRefusal) -> ApprovalCode {
        use crate::approval_api::ConsumeRefusal as R;
        match refusal {
            R::ApprovalPending => ApprovalCode::ApprovalPending,
            R::ApprovalDenied => ApprovalCode::ApprovalDenied,
            R::ApprovalExpired => ApprovalCode::ApprovalExpired,
            R::ApprovalUsed => ApprovalCode::ApprovalUsed,
            R::ApprovalMismatch => ApprovalCode::ApprovalMismatch,
        }
    }
}

/// `warden.approval`: what the approver said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalFact {
    /// Shape version.
    pub v: u32,
    /// What came of the approval for this request.
    pub status: ApprovalStatus,
    /// Approval id at the approval service.
    pub approval_id: String,
    /// Who decided (the first decider's subject), if anyone.
    #[serde(default)]
    pub approver: Option<String>,
    /// When, seconds since the epoch.
    #[serde(default)]
    pub decided_at: Option<u64>,
    /// `hold` or `deferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ApprovalMode>,
    /// The action digest the approval is bound to (`sha256:` and 64 hex digits).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The stable code the caller was answered with, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ApprovalCode>,
    /// Decided by break-glass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// The service's signed receipt (with `approved` and with a denial): proof of who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<crate::receipt::SignedReceipt>,
}

/// `warden.masking`: what was hidden, per direction (never the hidden values themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskingFact {
    /// Shape version.
    pub v: u32,
    /// The request body (e.g. a prompt bound for an LLM), if a profile applied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<MaskingReport>,
    /// The response body, if a profile applied to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<MaskingReport>,
}

/// What masking one body found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskingReport {
    /// Names of the masking profiles applied.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Values masked by type (`email`, `payment_card`, a path rule's type).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// JSON paths of masked values (`$.users[0].ssn`; at most 32 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// How the body was read: `json`, `ndjson`, `event_stream`, `form`, `text`; absent when it
    /// was not scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<BodyFormat>,
    /// Anything a reader of the audit trail must know, e.g.
    /// `json_unparseable_scanned_as_text`, `compressed_passed_unscanned`,
    /// `too_large_passed_unscanned`, `line_too_long` (streamed line over the limit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How the masking stage read a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/json`, `*+json`.
    Json,
    /// `application/x-ndjson`, `application/jsonl`: one JSON document per line.
    Ndjson,
    /// `text/event-stream`: each `data:` line (JSON or text).
    EventStream,
    /// `application/x-www-form-urlencoded`: each value, decoded.
    Form,
    /// `text/*`, or anything scanned as text.
    Text,
}

impl BodyFormat {
    /// The name in facts (`json`, `ndjson`, `event_stream`, `form`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Ndjson => "ndjson",
            BodyFormat::EventStream => "event_stream",
            BodyFormat::Form => "form",
            BodyFormat::Text => "text",
        }
    }
}

/// Most JSON paths listed per direction.
pub const MAX_MASKED_PATHS: usize = 32;

impl MaskingReport {
    /// Records one masked value of `kind` (at a JSON path, if any).
    pub fn found(&mut self, kind: &str, path: Option<String>) {
        *self.counts.entry(kind.to_string()).or_default() += 1;
        if let Some(path) = path {
            if self.paths.len() < MAX_MASKED_PATHS && !self.paths.contains(&path) {
                self.paths.push(path);
            }
        }
    }

    /// Adds a note once.
    pub fn note(&mut self, note: &str) {
        if !self.notes.iter().any(|n| n == note) {
            self.notes.push(note.to_string());
        }
    }

    /// Values masked in total.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What [`Facts::get`] found under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum FactRead<T> {
    /// No fact under the key: the stage that writes it did not run or had nothing to say.
    Absent,
    /// The fact.
    Present(T),
    /// A fact is there but this build cannot read it: why (its version, or what in its shape
    /// is wrong; never its values).
    Unreadable(String),
}

impl<T> FactRead<T> {
    /// The fact, if present and readable.
    pub fn present(self) -> Option<T> {
        match self {
            FactRead::Present(fact) => Some(fact),
            FactRead::Absent | FactRead::Unreadable(_) => None,
        }
    }
}

/// A fact serialized once, ready to be stored by many requests without serializing it again
/// (e.g. the identity of a cached token). Cloning shares the value and its bytes.
pub struct EncodedFact<T> {
    value: Arc<Value>,
    bytes: Arc<[u8]>,
    shape: PhantomData<fn() -> T>,
}

impl<T> Clone for EncodedFact<T> {
    fn clone(&self) -> Self {
        EncodedFact { value: self.value.clone(), bytes: self.bytes.clone(), shape: PhantomData }
    }
}

impl<T> std::fmt::Debug for EncodedFact<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedFact").field("value", &self.value).finish()
    }
}

impl<T> PartialEq for EncodedFact<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Serialize> EncodedFact<T> {
    /// Serializes a typed shape; `None` if it cannot be serialized (the shapes in this module
    /// always can).
    pub fn new(fact: &T) -> Option<EncodedFact<T>> {
        let value = serde_json::to_value(fact).ok()?;
        let bytes = encode(&value)?;
        Some(EncodedFact { value: Arc::new(value), bytes, shape: PhantomData })
    }

    /// The JSON value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The filter-state bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Filter-state bytes of a value: strings as plain text, everything else as JSON.
fn encode(value: &Value) -> Option<Arc<[u8]>> {
    match value {
        Value::String(s) => Some(Arc::from(s.as_bytes())),
        other => serde_json::to_vec(other).ok().map(Arc::from),
    }
}

/// The facts of one request: JSON values by key, with the keys changed since the last export
/// tracked so the adapter writes each change to filter state once. Stages read and write
/// through typed [`FactKey`]s; the chain moves raw values by name to and from filter state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    values: BTreeMap<&'static str, Entry>,
    dirty: Vec<&'static str>,
}

/// A stored value, with its filter-state bytes when they are already known. At least one
/// of the two is set; a value stored only as JSON bytes is parsed when first read.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    value: OnceLock<Arc<Value>>,
    bytes: Option<Arc<[u8]>>,
}

impl Entry {
    fn of_value(value: Arc<Value>, bytes: Option<Arc<[u8]>>) -> Entry {
        Entry { value: OnceLock::from(value), bytes }
    }

    /// The value (parsed from the bytes on first use; `Null` if they are not JSON, which
    /// [`Facts::write_json`]'s callers rule out).
    fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            Arc::new(self.bytes.as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null))
        })
    }
}

impl Facts {
    /// The request id, if known.
    pub fn request_id(&self) -> Option<&str> {
        self.raw(REQUEST_ID.name).and_then(Value::as_str)
    }

    /// The fact under `key`; `None` if absent, of another version or not of the key's shape
    /// (see [`Facts::get`] to tell those apart).
    pub fn read<T: for<'de> Deserialize<'de>>(&self, key: FactKey<T>) -> Option<T> {
        self.get(key).present()
    }

    /// The part of the fact under `key` that view `V` reads; `None` if absent, of another
    /// version or of another shape (see [`Facts::get_view`]).
    pub fn read_view<T, V: ViewOf<T>>(&self, key: FactKey<T>) -> Option<V> {
        self.get_view(key).present()
    }

    /// The fact under `key`: absent, present, or present but unreadable by this build (another
    /// version of the shape, as when separately deployed modules of different releases
    /// exchange facts through filter state, or not the key's shape). Stages fail closed on
    /// an unreadable fact they need.
    pub fn get<T: for<'de> Deserialize<'de>>(&self, key: FactKey<T>) -> FactRead<T> {
        self.decode(key.name, key.version)
    }

    /// [`Facts::get`] for the part of the fact that view `V` reads.
    pub fn get_view<T, V: ViewOf<T>>(&self, key: FactKey<T>) -> FactRead<V> {
        self.decode(key.name, key.version)
    }

    fn decode<V: for<'de> Deserialize<'de>>(&self, name: &str, version: Option<u32>) -> FactRead<V> {
        let Some(value) = self.raw(name) else { return FactRead::Absent };
        if let Some(version) = version {
            let found = value.get("v").and_then(Value::as_u64);
            if found != Some(u64::from(version)) {
                let found = found.map_or_else(|| "no version".to_string(), |v| format!("version {v}"));
                return FactRead::Unreadable(format!("{name}: {found}; this build reads version {version}"));
            }
        }
        // The reason names where the shape breaks, never what is there: serde's own message
        // may quote a value, and the reason reaches logs and error bodies.
        match serde_path_to_error::deserialize(value) {
            Ok(fact) => FactRead::Present(fact),
            Err(e) => FactRead::Unreadable(format!("{name}: `{}` is not of the shape this build reads", e.path())),
        }
    }

    /// Whether a fact is stored under `key`.
    pub fn contains<T>(&self, key: FactKey<T>) -> bool {
        self.values.contains_key(key.name)
    }

    /// Stores `fact` under `key` (marked for export). A shape that cannot be serialized is not
    /// stored (the shapes in this module always serialize).
    pub fn write<T: Serialize>(&mut self, key: FactKey<T>, fact: &T) {
        if let Ok(value) = serde_json::to_value(fact) {
            self.store(key.name, Entry::of_value(Arc::new(value), None));
        }
    }

    /// Stores an already serialized fact under `key` (marked for export; exported without
    /// serializing again).
    pub fn write_encoded<T>(&mut self, key: FactKey<T>, fact: &EncodedFact<T>) {
        self.store(key.name, Entry::of_value(fact.value.clone(), Some(fact.bytes.clone())));
    }

    /// Stores a fact given only as its JSON `bytes` (an object or array of the key's shape,
    /// e.g. canonical JSON written straight from other facts), exported as they are and
    /// parsed only if a stage reads the fact. Bytes that are not JSON read as `null`.
    pub fn write_json<T>(&mut self, key: FactKey<T>, bytes: Arc<[u8]>) {
        self.store(key.name, Entry { value: OnceLock::new(), bytes: Some(bytes) });
    }

    fn store(&mut self, key: &'static str, entry: Entry) {
        self.values.insert(key, entry);
        if !self.dirty.contains(&key) {
            self.dirty.push(key);
        }
    }

    /// The raw value under the key named `name` (for the chain's filter-state import and for
    /// tools that show facts).
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(Entry::value)
    }

    /// Stores a value read from filter state without marking it for export.
    pub fn import(&mut self, name: &'static str, value: Value) {
        self.values.insert(name, Entry::of_value(Arc::new(value), None));
    }

    /// Keys changed since the last call, with their filter-state bytes (strings as plain
    /// text, other values as JSON).
    pub fn take_changes(&mut self) -> Vec<(&'static str, Arc<[u8]>)> {
        let keys = std::mem::take(&mut self.dirty);
        keys.into_iter()
            .filter_map(|k| {
                let entry = self.values.get(k)?;
                let bytes = match &entry.bytes {
                    Some(bytes) => bytes.clone(),
                    None => encode(entry.value())?,
                };
                Some((k, bytes))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_written_as_json_bytes_is_exported_as_given_and_read_when_asked() {
        let mut facts = Facts::default();
        let bytes: Arc<[u8]> = Arc::from(&br#"{"b":1,"a":[true]}"#[..]);
        facts.write_json(crate::audit::AUDIT, bytes.clone());
        assert_eq!(facts.take_changes(), vec![("warden.audit", bytes)]);
        assert_eq!(facts.raw("warden.audit"), Some(&serde_json::json!({"a": [true], "b": 1})));
        facts.write_json(crate::audit::AUDIT, Arc::from(&b"not json"[..]));
        assert_eq!(facts.raw("warden.audit"), Some(&Value::Null));
    }

    #[test]
    fn identity_shape_round_trips_with_defaults() {
        let json = r#"{"v":1,"subject":"alice","issuer":"https://idp","kind":"human","method":"jwt"}"#;
        let fact: IdentityFact = serde_json::from_str(json).unwrap();
        assert_eq!(fact.subject, "alice");
        assert!(fact.actors.is_empty());
        let mut facts = Facts::default();
        facts.write(IDENTITY, &fact);
        assert_eq!(facts.read(IDENTITY), Some(fact));
    }

    #[test]
    fn changes_are_exported_once_and_imports_are_not_exported() {
        let mut facts = Facts::default();
        facts.import(IDENTITY.name(), serde_json::json!({"v":1}));
        facts.write(REQUEST_ID, &"r-1".to_string());
        facts.write(REQUEST_ID, &"r-1".to_string());
        let changes = facts.take_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].0, &*changes[0].1), (REQUEST_ID.name(), &b"r-1"[..]));
        assert!(facts.take_changes().is_empty());
        assert_eq!(facts.request_id(), Some("r-1"));
    }

    #[test]
    fn an_encoded_fact_exports_the_same_bytes_as_a_put_one() {
        let mut report = MaskingReport::default();
        report.found("email", Some("$.to".into()));
        let fact = MaskingFact { v: 1, request: None, response: Some(report) };
        let mut put = Facts::default();
        put.write(MASKING, &fact);
        let mut encoded = Facts::default();
        encoded.write_encoded(MASKING, &EncodedFact::new(&fact).unwrap());
        assert_eq!(encoded.read(MASKING), Some(fact));
        assert_eq!(put.take_changes(), encoded.take_changes());
    }

    #[test]
    fn a_view_reads_only_its_fields_of_the_shape() {
        #[derive(Deserialize)]
        struct Effect {
            effect: Verdict,
        }
        impl ViewOf<DecisionFact> for Effect {}
        let mut facts = Facts::default();
        facts.import(DECISION.name(), serde_json::json!({"v": 1, "effect": "deny", "some_future_field": 1}));
        assert_eq!(facts.read_view::<_, Effect>(DECISION).map(|e| e.effect), Some(Verdict::Deny));
        assert!(facts.read(DECISION).is_none(), "not the whole shape");
    }

    #[test]
    fn a_fact_of_another_version_is_unreadable_not_absent() {
        let mut facts = Facts::default();
        assert_eq!(facts.get(IDENTITY), FactRead::Absent);
        facts.import("warden.identity", serde_json::json!({"v": 2, "subject": "alice"}));
        match facts.get(IDENTITY) {
            FactRead::Unreadable(why) => assert!(why.contains("version 2"), "{why}"),
            other => panic!("{other:?}"),
        }
        facts.import("warden.identity", serde_json::json!({"v": 1, "subject": 7, "issuer": "i", "kind": "secret-ish"}));
        match facts.get(IDENTITY) {
            FactRead::Unreadable(why) => assert!(!why.contains("secret-ish") && !why.contains('7'), "{why}"),
            other => panic!("the right version, the wrong shape: {other:?}"),
        }
        assert_eq!(facts.read(IDENTITY), None);
    }
}
