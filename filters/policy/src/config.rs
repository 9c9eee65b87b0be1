//! Policy configuration as written by people: the plugin configuration and policy documents.
//! Unknown fields are rejected everywhere (a typo must not silently widen a policy).

use serde::Deserialize;
use std::collections::BTreeMap;
use warden_kit::facts::{ApprovalMode, SubjectKind};
use warden_kit::FailureMode;

/// The policy stage's plugin configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Policy documents, evaluated together (rule ids unique across all of them).
    pub policies: Vec<PolicyDocument>,
    /// Outcome when no rule decides: `deny` (default) or `allow`.
    #[serde(default)]
    pub default: Option<DefaultEffect>,
    /// Largest request body buffered for rules that read bodies (default 65536, at most
    /// 1048576, Envoy's buffer limit). A larger body fails per `failure_mode` (closed: 413).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// `closed` (default) or `open`: what happens when a body is too large to inspect.
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Whether an approval stage runs after this one. Without one, `require_approval` is
    /// answered 403 with a reason saying so (default false).
    #[serde(default)]
    pub approval_stage: bool,
    /// How MCP requests are refused: `jsonrpc_error` (default) or `tool_result`.
    #[serde(default)]
    pub mcp_denial: McpDenial,
    /// MCP `tools/list` results: `filter` (default) shows a caller only the tools it may call
    /// (each listed tool decided as a call with empty arguments; denied ones removed), `pass`
    /// leaves them alone. Filtering buffers only `tools/list` responses, up to
    /// `max_body_bytes`.
    #[serde(default)]
    pub tools_list: ToolsList,
    /// Offset of the zone for `time` conditions, `+HH:MM` or `-HH:MM` (default UTC). Fixed
    /// offsets only: daylight-saving rules are not applied.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// IANA zone for `time` conditions and CEL's `now`, e.g. `Europe/Berlin` (daylight-saving
    /// rules applied). Give this or `utc_offset`, not both.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// The policy default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultEffect {
    /// Allow what no rule decides.
    Allow,
    /// Deny what no rule decides.
    Deny,
}

/// How an MCP request is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McpDenial {
    /// A JSON-RPC error response (code -32001) with the request's id: the client library
    /// raises it; the agent sees a failed call.
    #[default]
    JsonrpcError,
    /// A successful JSON-RPC response whose result is a tool result with `isError: true`:
    /// the model reads the message and can adapt.
    ToolResult,
}

/// What happens to MCP `tools/list` results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolsList {
    /// Remove the tools the caller may not call.
    #[default]
    Filter,
    /// Leave the list as the server sent it.
    Pass,
}

/// One policy document (`policy.yaml` of a pack).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Name, e.g. `ai-agent-guardrails`.
    pub name: String,
    /// What the policy is for.
    #[serde(default)]
    pub description: String,
    /// Rules; order does not matter (see the combination rules).
    pub rules: Vec<RuleConfig>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique id, used in decisions, logs and audit.
    pub id: String,
    /// What the rule is for.
    #[serde(default)]
    pub description: String,
    /// Conditions on the request; all given must hold. An empty block matches everything.
    #[serde(default, rename = "match")]
    pub matches: MatchConfig,
    /// Extra condition in CEL, compiled at load (see the README for the variables).
    #[serde(default)]
    pub when: Option<String>,
    /// What the rule does when it matches.
    pub effect: RuleEffectConfig,
    /// Caller-facing message for `deny` (default: "denied by policy").
    #[serde(default)]
    pub message: Option<String>,
    /// Approval details for `require_approval`.
    #[serde(default)]
    pub approval: Option<ApprovalConfig>,
    /// Masking obligation, with `allow` or `require_approval`.
    #[serde(default)]
    pub mask: Option<MaskConfig>,
    /// `enforce` (default) or `dry_run` (recorded, never changes the outcome).
    #[serde(default)]
    pub mode: RuleMode,
}

/// A rule's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEffectConfig {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
    /// Require a human's approval.
    RequireApproval,
    /// Only record the match.
    Log,
}

/// Enforce or dry-run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    /// The rule decides.
    #[default]
    Enforce,
    /// The rule's would-be effect is recorded; the outcome is unchanged.
    DryRun,
}

/// Approval details.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Who may approve: groups and/or users (at least one entry).
    pub approvers: ApproversConfig,
    /// Approvals needed (default 1).
    #[serde(default)]
    pub min_approvals: Option<u32>,
    /// How long an approval is valid, seconds (default 3600).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// `hold` (default) or `deferred`.
    #[serde(default)]
    pub mode: Option<ApprovalMode>,
    /// How long a held request waits, ms (default 30000).
    #[serde(default)]
    pub hold_timeout_ms: Option<u64>,
}

/// Approvers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproversConfig {
    /// Groups whose members may approve.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Subjects who may approve.
    #[serde(default)]
    pub users: Vec<String>,
}

/// Masking obligation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// Masking profile name.
    pub profile: String,
    /// Mask the request body (default false).
    #[serde(default)]
    pub request: bool,
    /// Mask the response body (default true).
    #[serde(default = "yes")]
    pub response: bool,
}

fn yes() -> bool {
    true
}

/// Request conditions. Lists are alternatives (any may match); fields are all required.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// HTTP methods (uppercase).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Hosts: exact, or `*.example.com` for any subdomain.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Paths (the query string is not part of the path).
    #[serde(default)]
    pub paths: Vec<PathConfig>,
    /// Query parameters by name.
    #[serde(default)]
    pub query: BTreeMap<String, ValueConfig>,
    /// Request headers by lowercase name.
    #[serde(default)]
    pub headers: BTreeMap<String, ValueConfig>,
    /// Source addresses: IPv4/IPv6 CIDRs or single addresses.
    #[serde(default)]
    pub source: Vec<String>,
    /// The verified identity.
    #[serde(default)]
    pub identity: Option<IdentityMatch>,
    /// Time of day and weekday.
    #[serde(default)]
    pub time: Option<TimeMatch>,
    /// JSON body conditions (all must hold); the body is buffered for such rules.
    #[serde(default)]
    pub body: Vec<PointerCondition>,
    /// MCP (JSON-RPC over HTTP) conditions.
    #[serde(default)]
    pub mcp: Option<McpMatch>,
    /// SQL carried by the request.
    #[serde(default)]
    pub sql: Option<SqlMatch>,
}

/// A path condition: exactly one of the fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// Equal to.
    #[serde(default)]
    pub exact: Option<String>,
    /// Starts with (segment-aware is not implied: `/admin` also matches `/administrator`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Glob: `*` any run within a segment, `**` any run across segments, `?` one character.
    #[serde(default)]
    pub glob: Option<String>,
    /// Regular expression (Rust `regex` syntax), anchored at both ends.
    #[serde(default)]
    pub regex: Option<String>,
}

/// A condition on a text value: exactly one of the fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueConfig {
    /// Equal to.
    #[serde(default)]
    pub equals: Option<String>,
    /// One of.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<String>>,
    /// Starts with.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Regular expression, anchored at both ends.
    #[serde(default)]
    pub regex: Option<String>,
    /// Present (`true`) or absent (`false`).
    #[serde(default)]
    pub present: Option<bool>,
}

/// Identity conditions (all given must hold). Without a verified identity only
/// `anonymous: true` matches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityMatch {
    /// Matches requests without a verified identity (`true`) or only with one (`false`).
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// Subjects (exact; `*` globs allowed).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Kinds of the subject.
    #[serde(default)]
    pub kinds: Vec<SubjectKind>,
    /// Any of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Any of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Issuers (exact).
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Some actor in the delegation chain is one of these subjects (`*` globs allowed).
    #[serde(default)]
    pub actors: Vec<String>,
    /// Some actor, or the subject itself, is of one of these kinds (e.g. `agent`: an agent
    /// acting for someone, or an agent calling for itself).
    #[serde(default)]
    pub acting_kinds: Vec<SubjectKind>,
    /// Whether the request is delegated (has an actor chain).
    #[serde(default)]
    pub delegated: Option<bool>,
    /// Selected claims by name: equal to the string, or containing it when a list.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// Time window (in `utc_offset`'s zone).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeMatch {
    /// Weekdays: `mon` .. `sun`.
    #[serde(default)]
    pub days: Vec<String>,
    /// From `HH:MM` (inclusive).
    #[serde(default)]
    pub from: Option<String>,
    /// To `HH:MM` (exclusive); before `from` means the window crosses midnight.
    #[serde(default)]
    pub to: Option<String>,
}

/// A JSON pointer condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointerCondition {
    /// RFC 6901 pointer, e.g. `/params/arguments/force`.
    pub pointer: String,
    /// The value must satisfy this (strings compare as text, other JSON values by their
    /// JSON text, e.g. `true`, `42`).
    #[serde(flatten)]
    pub value: ValueConfig,
}

/// MCP conditions (the body must be JSON-RPC; for a batch, a rule matches when it matches
/// any call, so a deny on one call denies the batch).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpMatch {
    /// JSON-RPC methods, e.g. `tools/call`, `tools/list`.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Tool names of `tools/call` (`*` globs allowed).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Conditions on the call's `params.arguments` (pointers relative to `arguments`).
    #[serde(default)]
    pub arguments: Vec<PointerCondition>,
}

/// SQL conditions. A statement that does not parse counts as `ddl` and destructive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlMatch {
    /// Where the SQL is: a JSON pointer into the body, or the whole body when absent.
    #[serde(default)]
    pub pointer: Option<String>,
    /// Any statement of these classes: `read`, `write`, `ddl`, `dcl`.
    #[serde(default)]
    pub classes: Vec<SqlClassConfig>,
    /// Some statement is destructive (`true`) / none is (`false`).
    #[serde(default)]
    pub destructive: Option<bool>,
    /// Some statement touches one of these tables (case-insensitive, unqualified name).
    #[serde(default)]
    pub tables: Vec<String>,
}

/// SQL statement class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlClassConfig {
    /// SELECT and other reads.
    Read,
    /// INSERT, UPDATE, DELETE, MERGE, COPY.
    Write,
    /// CREATE, ALTER, DROP, TRUNCATE, RENAME.
    Ddl,
    /// GRANT, REVOKE.
    Dcl,
}
