//! Policy configuration as written by people: the plugin configuration and policy documents.
//! Unknown fields are rejected everywhere (a typo must not silently widen a policy).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use warden_kit::facts::{ApprovalMode, SubjectKind};
use warden_kit::FailureMode;

/// The policy stage's plugin configuration.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Policy documents, evaluated together (rule ids unique across all of them).
    pub policies: Vec<PolicyDocument>,
    /// Outcome when no rule decides: `deny` (default) or `allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultEffect>,
    /// Largest request body buffered for rules that read bodies (default 65536, at most
    /// 1048576, Envoy's buffer limit). A larger body fails per `failure_mode` (closed: 413).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// `closed` (default) or `open`: what happens when a body is too large to inspect.
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Removed: it let `require_approval` requests through unapproved when no approval stage
    /// followed. A request that needs approval now goes on only to an approval stage in the
    /// same chain; any value here is refused with a message saying so.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub approval_stage: Option<serde::de::IgnoredAny>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    /// IANA zone for `time` conditions and CEL's `now`, e.g. `Europe/Berlin` (daylight-saving
    /// rules applied). Give this or `utc_offset`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How SQL is classified. Default: the built-in function lists only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlSettings>,
    /// How paths are read. Default: ambiguous paths refused where rules match on paths;
    /// case-sensitive matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathSettings>,
}

/// Path settings.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathSettings {
    /// Paths an upstream may decode differently from Envoy (encoded slashes or backslashes,
    /// `;` path parameters, dot segments, control characters): `refuse` (default: 400
    /// `ambiguous_path` when any rule matches on paths) or `allow` (for upstreams that use
    /// encoded slashes in identifiers, such as `group%2Fproject`; then Envoy's
    /// `path_with_escaped_slashes_action` must not be `KEEP_UNCHANGED`).
    #[serde(default)]
    pub ambiguous: AmbiguousPaths,
    /// Match paths case-insensitively (rules and requests compared in lowercase), for
    /// upstreams that route `/Admin/users` as `/admin/users`. Default false.
    #[serde(default)]
    pub case_insensitive: bool,
}

/// What happens to an ambiguous path.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguousPaths {
    /// 400 `ambiguous_path` where any rule matches on paths.
    #[default]
    Refuse,
    /// Decided as any other path.
    Allow,
}

/// SQL classification settings.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSettings {
    /// Functions a read may call and stay a read, beyond the built-in lists (see the policy
    /// README), e.g. your own `analytics.score`: case-insensitive; a qualified name matches
    /// only that qualified call. Any other unlisted function makes a statement `write`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pure_functions: Vec<String>,
}

/// The policy default.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultEffect {
    /// Allow what no rule decides.
    Allow,
    /// Deny what no rule decides.
    Deny,
}

/// How an MCP request is refused.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolsList {
    /// Remove the tools the caller may not call.
    #[default]
    Filter,
    /// Leave the list as the server sent it.
    Pass,
}

/// One policy document (`policy.yaml` of a pack).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Name, e.g. `ai-agent-guardrails`.
    pub name: String,
    /// What the policy is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Rules; order does not matter (see the combination rules).
    pub rules: Vec<RuleConfig>,
}

/// One rule.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique id, used in decisions, logs and audit.
    pub id: String,
    /// What the rule is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Conditions on the request; all given must hold. An empty block matches everything.
    #[serde(default, rename = "match")]
    pub matches: MatchConfig,
    /// Extra condition in CEL, compiled at load (see the README for the variables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// What the rule does when it matches.
    pub effect: RuleEffectConfig,
    /// Caller-facing message for `deny` (default: "denied by policy").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Approval details for `require_approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalConfig>,
    /// Masking obligation, with `allow` or `require_approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<MaskConfig>,
    /// `enforce` (default) or `dry_run` (recorded, never changes the outcome).
    #[serde(default)]
    pub mode: RuleMode,
}

/// A rule's effect.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    /// The rule decides.
    #[default]
    Enforce,
    /// The rule's would-be effect is recorded; the outcome is unchanged.
    DryRun,
}

/// Approval details.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Who may approve: groups and/or users (at least one entry).
    pub approvers: ApproversConfig,
    /// Approvals needed: distinct people (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_approvals: Option<u32>,
    /// Every listed group must have an approving member (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_groups: Option<bool>,
    /// Denials (distinct people) that end the approval (default 1: any eligible approver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_threshold: Option<u32>,
    /// How long approvers have to decide, seconds (`pending_ttl`; default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// How long an approval may be used once approved, seconds (`use_by`; default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_by_secs: Option<u64>,
    /// `hold` (default) or `deferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ApprovalMode>,
    /// How long a held request waits, ms (default 60000; at most 300000, and at most the
    /// approval stage's `max_hold_timeout_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_timeout_ms: Option<u64>,
    /// Step-up: only people who signed in within this many seconds may decide (the approval
    /// web page asks them to sign in again). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_auth_age_secs: Option<u64>,
}

/// Approvers.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApproversConfig {
    /// Groups whose members may approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Subjects who may approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

/// Masking obligation.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// HTTP methods (uppercase).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Hosts: exact, or `*.example.com` for any subdomain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Paths (the query string is not part of the path).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathConfig>,
    /// Query parameters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, ValueConfig>,
    /// Request headers by lowercase name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, ValueConfig>,
    /// Source addresses: IPv4/IPv6 CIDRs or single addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
    /// The verified identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityMatch>,
    /// Time of day and weekday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeMatch>,
    /// JSON body conditions (all must hold); the body is buffered for such rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body: Vec<PointerCondition>,
    /// MCP (JSON-RPC over HTTP) conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpMatch>,
    /// SQL carried by the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlMatch>,
}

/// A path condition: exactly one of the fields.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// Equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Starts with (segment-aware is not implied: `/admin` also matches `/administrator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Glob: `*` any run within a segment, `**` any run across segments, `?` one character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// Regular expression (Rust `regex` syntax), anchored at both ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A condition on a text value: exactly one of the fields.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValueConfig {
    /// Equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// One of.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    /// Starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Regular expression, anchored at both ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// Identity conditions (all given must hold). Without a verified identity only
/// `anonymous: true` matches.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityMatch {
    /// Matches requests without a verified identity (`true`) or only with one (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
    /// Subjects (exact; `*` globs allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// Kinds of the subject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<SubjectKind>,
    /// Any of these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Any of these scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Issuers (exact).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<String>,
    /// Some actor in the delegation chain is one of these subjects (`*` globs allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<String>,
    /// Some actor, or the subject itself, is of one of these kinds (e.g. `agent`: an agent
    /// acting for someone, or an agent calling for itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acting_kinds: Vec<SubjectKind>,
    /// Whether the request is delegated (has an actor chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated: Option<bool>,
    /// Selected claims by name: equal to the string, or containing it when a list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
}

/// Time window (in `utc_offset`'s zone).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeMatch {
    /// Weekdays: `mon` .. `sun`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    /// From `HH:MM` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// To `HH:MM` (exclusive); before `from` means the window crosses midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A JSON pointer condition.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct McpMatch {
    /// JSON-RPC methods, e.g. `tools/call`, `tools/list`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Tool names of `tools/call` (`*` globs allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Conditions on the call's `params.arguments` (pointers relative to `arguments`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PointerCondition>,
}

/// SQL conditions. A statement that does not parse counts as `ddl` and destructive.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlMatch {
    /// Where the SQL is: a JSON pointer into the body, or the whole body when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Any statement of these classes: `read`, `write`, `ddl`, `dcl`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<SqlClassConfig>,
    /// Some statement is destructive (`true`) / none is (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    /// Some statement touches one of these tables (case-insensitive, unqualified name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
}

/// SQL statement class (the facts' [`warden_kit::facts::SqlClass`]).
pub type SqlClassConfig = warden_kit::facts::SqlClass;
