//! Policy configuration compiled once at load into an immutable [`Policy`]: matchers,
//! regular expressions, CEL programs and the path index. Every error names its field.

use crate::config::*;
use crate::index::PathIndex;
use crate::matchers::{Cidr, HostMatcher, NamePattern, PathMatcher, TimeWindow, ValueMatcher};
use crate::when::When;
use crate::zone::Zone;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use warden_kit::facts::{ApprovalMode, ApprovalRequirement, MaskObligation, Requirement, RuleEffect, SubjectKind};
use warden_kit::{ConfigError, FailureMode, StageKind};

/// Default largest body buffered for body rules.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// CEL variables a `when` condition may use; those marked need the request body.
pub const CEL_VARIABLES: &[(&str, bool)] = &[
    ("request", false),
    ("identity", false),
    ("source", false),
    ("now", false),
    ("body", true),
    ("mcp", true),
    ("sql", true),
];

/// The compiled policy: immutable, shared by every request of a VM.
pub struct Policy {
    /// Rules, in the order written (order never changes a decision).
    pub rules: Vec<Rule>,
    /// Outcome when no enforcing rule decides.
    pub default: DefaultEffect,
    /// The policy version: `sha256:` + 64 hex digits ([`PolicySet::version`]).
    pub version: String,
    /// Largest body buffered.
    pub max_body_bytes: usize,
    /// Body too large: closed (413) or open.
    pub failure_mode: FailureMode,
    /// Shape of MCP denials.
    pub mcp_denial: McpDenial,
    /// Zone of time windows and CEL's `now`.
    pub zone: Zone,
    /// Whether any rule reads the body.
    pub reads_bodies: bool,
    /// Whether `tools/list` results are filtered (configured so, and some rule reads MCP).
    pub filters_tools_list: bool,
    /// Whether any rule reads the source address (a hostcall per request otherwise saved).
    pub reads_source: bool,
    /// Candidate rules by path.
    pub index: PathIndex,
    /// Functions SQL may call and stay a read, beyond the built-in lists.
    pub sql_functions: crate::sql::PureFunctions,
    /// Whether ambiguous paths are refused (some rule matches on paths, `paths.ambiguous`
    /// is `refuse`).
    pub refuses_ambiguous_paths: bool,
    /// Whether paths are compared in lowercase.
    pub case_insensitive_paths: bool,
    /// CEL environment shared by all programs.
    pub cel: Arc<cel::Env>,
    /// The longest `hold` any rule asks for, with its field (checked against the approval
    /// stage's ceiling when the chain is compiled).
    pub longest_hold: Option<(u64, String)>,
}

/// One compiled rule.
pub struct Rule {
    /// The rule's id, unique in the policy: named in decisions, records and metrics.
    pub id: String,
    /// What the rule is for, for people reading the policy (never in a decision).
    pub description: String,
    /// What a match does: allow, deny, require approval, or only log.
    pub effect: RuleEffect,
    /// Dry run?
    pub dry_run: bool,
    /// The message a deny answers with (default: the rule's description or id).
    pub message: String,
    /// Approval requirement (require_approval).
    pub approval: Option<ApprovalRequirement>,
    /// The masking the rule asks of the masking stage when it allows.
    pub mask: Option<MaskObligation>,
    /// Methods (uppercase); empty = any.
    pub methods: Vec<String>,
    /// Hosts; empty = any.
    pub hosts: Vec<HostMatcher>,
    /// Paths; empty = any.
    pub paths: Vec<PathMatcher>,
    /// Query parameter conditions.
    pub query: Vec<(String, ValueMatcher)>,
    /// Header conditions (lowercase names), all of which must hold.
    pub headers: Vec<(String, ValueMatcher)>,
    /// Source ranges; empty = any.
    pub sources: Vec<Cidr>,
    /// Conditions on the verified caller (`warden.identity`); `None`: anyone, even anonymous.
    pub identity: Option<IdentityMatcher>,
    /// When the rule applies (days and hours in a time zone); `None`: always.
    pub time: Option<TimeWindow>,
    /// Body pointer conditions.
    pub body: Vec<(String, ValueMatcher)>,
    /// MCP conditions.
    pub mcp: Option<McpMatcher>,
    /// SQL conditions.
    pub sql: Option<SqlMatcher>,
    /// CEL condition.
    pub when: Option<When>,
    /// Whether matching this rule needs the request body.
    pub needs_body: bool,
}

/// Compiled identity conditions.
pub struct IdentityMatcher {
    /// See [`IdentityMatch`].
    pub anonymous: Option<bool>,
    /// Subjects that match (exact or glob); empty: any.
    pub subjects: Vec<NamePattern>,
    /// Kinds of subject that match; empty: any.
    pub kinds: Vec<SubjectKind>,
    /// The caller must be in at least one of these groups; empty: no condition.
    pub groups: Vec<String>,
    /// The caller's credential must carry at least one of these scopes; empty: no condition.
    pub scopes: Vec<String>,
    /// Credential issuers that match; empty: any.
    pub issuers: Vec<String>,
    /// Someone in the actor chain must match one of these (exact or glob); empty: no condition.
    pub actors: Vec<NamePattern>,
    /// Someone in the actor chain must be of one of these kinds; empty: no condition.
    pub acting_kinds: Vec<SubjectKind>,
    /// Whether someone acts for the subject (`Some(true)`) or nobody does; `None`: either.
    pub delegated: Option<bool>,
    /// Selected claims that must have these values (claim, value).
    pub claims: Vec<(String, String)>,
}

/// Compiled MCP conditions.
pub struct McpMatcher {
    /// JSON-RPC methods that match (`tools/call`); empty: any.
    pub methods: Vec<String>,
    /// Tools of a `tools/call` that match (exact or glob); empty: any.
    pub tools: Vec<NamePattern>,
    /// Argument conditions (pointer relative to `arguments`).
    pub arguments: Vec<(String, ValueMatcher)>,
}

/// Compiled SQL conditions.
pub struct SqlMatcher {
    /// Pointer into the JSON body, or the whole body.
    pub pointer: Option<String>,
    /// Any of these classes.
    pub classes: Vec<SqlClassConfig>,
    /// Destructive or not.
    pub destructive: Option<bool>,
    /// Any of these tables (lowercase).
    pub tables: Vec<String>,
}

impl StageKind for Policy {
    const NAME: &'static str = "policy";
    type Config = PolicyConfig;

    /// Compiles `config`; the first error names its field.
    fn compile(config: PolicyConfig) -> Result<Policy, ConfigError> {
        if config.approval_stage.is_some() {
            return Err(ConfigError::new(
                "approval_stage",
                "removed: a require_approval request goes on only to an approval stage in the same chain",
            ));
        }
        if config.policies.is_empty() {
            return Err(ConfigError::new("policies", "list at least one policy"));
        }
        let cel = Arc::new(cel::Env::stdlib());
        let path_settings = config.paths.clone().unwrap_or_default();
        let case_insensitive = path_settings.case_insensitive;
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        let mut longest_hold: Option<(u64, String)> = None;
        for (p, document) in config.policies.iter().enumerate() {
            let field = format!("policies[{p}]");
            if document.name.trim().is_empty() {
                return Err(ConfigError::new(format!("{field}.name"), "give the policy a name"));
            }
            if document.rules.is_empty() {
                return Err(ConfigError::new(format!("{field}.rules"), "list at least one rule"));
            }
            for (r, rule) in document.rules.iter().enumerate() {
                let field = format!("{field}.rules[{r}]");
                if !ids.insert(rule.id.clone()) {
                    return Err(ConfigError::new(format!("{field}.id"), format!("duplicate rule id `{}`", rule.id)));
                }
                let compiled = if case_insensitive {
                    compile_rule(&lowercase_paths(rule), &cel)
                } else {
                    compile_rule(rule, &cel)
                }
                .map_err(|e| e.within(&field))?;
                if let Some(a) = compiled.approval.as_ref().filter(|a| a.mode == ApprovalMode::Hold) {
                    if longest_hold.as_ref().is_none_or(|(ms, _)| a.hold_timeout_ms > *ms) {
                        longest_hold = Some((a.hold_timeout_ms, format!("{field}.approval.hold_timeout_ms")));
                    }
                }
                rules.push(compiled);
            }
        }
        let version = PolicySet::of(&config).version()?;
        let max_body_bytes =
            warden_kit::limits::body_limit("max_body_bytes", config.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES))?;
        let zone = Zone::compile(config.utc_offset.as_deref(), config.time_zone.as_deref())?;
        let index = PathIndex::build(&rules);
        let pure_functions = config.sql.as_ref().map(|s| s.pure_functions.as_slice()).unwrap_or_default();
        for (i, name) in pure_functions.iter().enumerate() {
            let valid = !name.is_empty()
                && name
                    .split('.')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$'));
            if !valid {
                return Err(ConfigError::new(
                    format!("sql.pure_functions[{i}]"),
                    "a function name: `name` or `schema.name`",
                ));
            }
        }
        let matches_paths = rules.iter().any(|r| !r.paths.is_empty());
        Ok(Policy {
            sql_functions: crate::sql::PureFunctions::with(pure_functions),
            refuses_ambiguous_paths: matches_paths && path_settings.ambiguous == crate::config::AmbiguousPaths::Refuse,
            case_insensitive_paths: case_insensitive,
            reads_bodies: rules.iter().any(|r| r.needs_body),
            filters_tools_list: config.tools_list == ToolsList::Filter && rules.iter().any(|r| r.mcp.is_some()),
            reads_source: rules.iter().any(|r| {
                !r.sources.is_empty()
                    || r.when.as_ref().is_some_and(|w| w.program().references().has_variable("source"))
            }),
            rules,
            default: config.default.unwrap_or(DefaultEffect::Deny),
            version,
            max_body_bytes,
            failure_mode: config.failure_mode,
            mcp_denial: config.mcp_denial,
            zone,
            index,
            cel,
            longest_hold,
        })
    }
}

/// The part of a policy configuration that decides requests, in the form its version is
/// computed over and an auditor stores: the documents (as parsed: defaults omitted, so adding
/// an optional field to the format later does not change existing versions), the default
/// effect (filled in) and the time zone settings. Response shaping (`mcp_denial`,
/// `tools_list`) and limits are not part of it.
#[derive(Debug, serde::Serialize)]
pub struct PolicySet<'a> {
    /// The policy documents, in the order configured.
    pub policies: &'a [PolicyDocument],
    /// What no rule decides.
    pub default: DefaultEffect,
    /// Fixed zone offset of time conditions, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<&'a str>,
    /// IANA zone of time conditions, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<&'a str>,
    /// SQL classification settings, if any (they change what a rule's `sql` matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<&'a crate::config::SqlSettings>,
    /// Path settings, if not the defaults (they change what a rule's `paths` match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<&'a crate::config::PathSettings>,
}

impl<'a> PolicySet<'a> {
    /// The decision-relevant part of `config`.
    pub fn of(config: &'a PolicyConfig) -> PolicySet<'a> {
        PolicySet {
            policies: &config.policies,
            default: config.default.unwrap_or(DefaultEffect::Deny),
            utc_offset: config.utc_offset.as_deref(),
            time_zone: config.time_zone.as_deref(),
            sql: config.sql.as_ref().filter(|s| !s.pure_functions.is_empty()),
            paths: config.paths.as_ref().filter(|p| **p != crate::config::PathSettings::default()),
        }
    }

    /// Its canonical JSON (RFC 8785): the bytes the version is the hash of.
    pub fn canonical_json(&self) -> Result<Vec<u8>, ConfigError> {
        warden_kit::canonical::to_vec(self).map_err(|e| ConfigError::new("policies", e.to_string()))
    }

    /// The policy version: `sha256:` and the 64 hex digits of the SHA-256 of
    /// [`PolicySet::canonical_json`]. The same on every platform and build.
    pub fn version(&self) -> Result<String, ConfigError> {
        let digest = Sha256::digest(self.canonical_json()?);
        Ok(format!("sha256:{}", warden_kit::hex::encode(&digest)))
    }
}

fn values(
    map: &std::collections::BTreeMap<String, ValueConfig>,
    field: &str,
) -> Result<Vec<(String, ValueMatcher)>, ConfigError> {
    map.iter()
        .map(|(name, value)| {
            ValueMatcher::compile(value)
                .map(|m| (name.to_ascii_lowercase(), m))
                .map_err(|e| e.within(&format!("{field}.{name}")))
        })
        .collect()
}

fn pointers(conditions: &[PointerCondition], field: &str) -> Result<Vec<(String, ValueMatcher)>, ConfigError> {
    conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = format!("{field}[{i}]");
            if !(c.pointer.is_empty() || c.pointer.starts_with('/')) {
                return Err(ConfigError::new(format!("{field}.pointer"), "a JSON pointer is empty or starts with `/`"));
            }
            ValueMatcher::compile(&c.value).map(|m| (c.pointer.clone(), m)).map_err(|e| e.within(&field))
        })
        .collect()
}

/// Compiles each item of a list, naming `field[i]` in an error.
fn each<T, U>(items: &[T], field: &str, compile: impl Fn(&T) -> Result<U, ConfigError>) -> Result<Vec<U>, ConfigError> {
    items.iter().enumerate().map(|(i, item)| compile(item).map_err(|e| e.within(&format!("{field}[{i}]")))).collect()
}

fn names(patterns: &[String], field: &str) -> Result<Vec<NamePattern>, ConfigError> {
    each(patterns, field, |p| NamePattern::compile(p))
}

/// `rule` with its path conditions in lowercase (globs and exact paths lowercased, regexes
/// case-insensitive), for `paths.case_insensitive`.
fn lowercase_paths(rule: &RuleConfig) -> RuleConfig {
    let mut rule = rule.clone();
    for path in &mut rule.matches.paths {
        for text in [&mut path.exact, &mut path.prefix, &mut path.glob].into_iter().flatten() {
            *text = text.to_lowercase();
        }
        if let Some(regex) = &mut path.regex {
            *regex = format!("(?i:{regex})");
        }
    }
    rule
}

fn compile_rule(rule: &RuleConfig, cel: &cel::Env) -> Result<Rule, ConfigError> {
    if rule.id.trim().is_empty() || rule.id.chars().any(|c| c.is_whitespace()) {
        return Err(ConfigError::new("id", "give a non-empty id without spaces"));
    }
    let m = &rule.matches;
    let effect = match rule.effect {
        RuleEffectConfig::Allow => RuleEffect::Allow,
        RuleEffectConfig::Deny => RuleEffect::Deny,
        RuleEffectConfig::RequireApproval => RuleEffect::RequireApproval,
        RuleEffectConfig::Log => RuleEffect::Log,
    };
    if rule.message.is_some() && effect != RuleEffect::Deny {
        return Err(ConfigError::new("message", "only a deny rule has a message"));
    }
    let approval = match (&rule.approval, effect) {
        (Some(a), RuleEffect::RequireApproval) => Some(approval(a).map_err(|e| e.within("approval"))?),
        (None, RuleEffect::RequireApproval) => {
            return Err(ConfigError::new("approval", "a require_approval rule says who approves"))
        }
        (Some(_), _) => return Err(ConfigError::new("approval", "only a require_approval rule has approval details")),
        (None, _) => None,
    };
    let mask = match (&rule.mask, effect) {
        (Some(mask), RuleEffect::Allow | RuleEffect::RequireApproval) => {
            if mask.profile.trim().is_empty() {
                return Err(ConfigError::new("mask.profile", "name the masking profile"));
            }
            if !mask.request && !mask.response {
                return Err(ConfigError::new("mask", "mask the request, the response, or both"));
            }
            Some(MaskObligation { profile: mask.profile.clone(), request: mask.request, response: mask.response })
        }
        (Some(_), _) => return Err(ConfigError::new("mask", "masking goes with allow or require_approval")),
        (None, _) => None,
    };
    let mut methods = Vec::new();
    for (i, method) in m.methods.iter().enumerate() {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::new(format!("match.methods[{i}]"), "an HTTP method in capitals, e.g. POST"));
        }
        methods.push(method.clone());
    }
    let hosts = each(&m.hosts, "match.hosts", |h| HostMatcher::compile(h))?;
    let paths = each(&m.paths, "match.paths", PathMatcher::compile)?;
    let sources = each(&m.source, "match.source", |s| Cidr::parse(s))?;
    let identity = match &m.identity {
        Some(id) => Some(IdentityMatcher {
            anonymous: id.anonymous,
            subjects: names(&id.subjects, "match.identity.subjects")?,
            kinds: id.kinds.clone(),
            groups: id.groups.clone(),
            scopes: id.scopes.clone(),
            issuers: id.issuers.clone(),
            actors: names(&id.actors, "match.identity.actors")?,
            acting_kinds: id.acting_kinds.clone(),
            delegated: id.delegated,
            claims: id.claims.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }),
        None => None,
    };
    if let Some(id) = &identity {
        if id.anonymous == Some(true)
            && (!id.subjects.is_empty() || !id.kinds.is_empty() || !id.groups.is_empty() || !id.scopes.is_empty())
        {
            return Err(ConfigError::new(
                "match.identity.anonymous",
                "an anonymous caller has no subject, kind, groups or scopes: this rule can never match",
            ));
        }
    }
    let time = match &m.time {
        Some(t) => {
            Some(TimeWindow::compile(&t.days, t.from.as_deref(), t.to.as_deref()).map_err(|e| e.within("match.time"))?)
        }
        None => None,
    };
    let mcp = match &m.mcp {
        Some(mcp) => {
            if !mcp.tools.is_empty() && !mcp.methods.is_empty() && !mcp.methods.iter().any(|x| x == "tools/call") {
                return Err(ConfigError::new(
                    "match.mcp.tools",
                    "tools are named only by tools/call: this rule can never match",
                ));
            }
            Some(McpMatcher {
                methods: mcp.methods.clone(),
                tools: names(&mcp.tools, "match.mcp.tools")?,
                arguments: pointers(&mcp.arguments, "match.mcp.arguments")?,
            })
        }
        None => None,
    };
    let sql = match &m.sql {
        Some(sql) => {
            if let Some(p) = &sql.pointer {
                if !p.starts_with('/') {
                    return Err(ConfigError::new("match.sql.pointer", "a JSON pointer starts with `/`"));
                }
            }
            if sql.classes.is_empty() && sql.destructive.is_none() && sql.tables.is_empty() {
                return Err(ConfigError::new("match.sql", "give classes, destructive and/or tables"));
            }
            Some(SqlMatcher {
                pointer: sql.pointer.clone(),
                classes: sql.classes.clone(),
                destructive: sql.destructive,
                tables: sql.tables.iter().map(|t| t.to_lowercase()).collect(),
            })
        }
        None => None,
    };
    let when = match &rule.when {
        Some(source) => Some(When::compile(cel, source).map_err(|e| {
            ConfigError::new("when", format!("not valid CEL: {}", e.to_string().lines().next().unwrap_or_default()))
        })?),
        None => None,
    };
    let when_needs_body = when.as_ref().is_some_and(|p| {
        let references = p.program().references();
        CEL_VARIABLES.iter().any(|(name, body)| *body && references.has_variable(name))
    });
    let body = pointers(&m.body, "match.body")?;
    let needs_body = !body.is_empty() || mcp.is_some() || sql.is_some() || when_needs_body;
    Ok(Rule {
        id: rule.id.clone(),
        description: rule.description.clone(),
        effect,
        dry_run: rule.mode == RuleMode::DryRun,
        message: rule.message.clone().unwrap_or_else(|| "denied by policy".into()),
        approval,
        mask,
        methods,
        hosts,
        paths,
        query: values(&m.query, "match.query")?,
        headers: values(&m.headers, "match.headers")?,
        sources,
        identity,
        time,
        body,
        mcp,
        sql,
        when,
        needs_body,
    })
}

fn approval(config: &ApprovalConfig) -> Result<ApprovalRequirement, ConfigError> {
    if config.approvers.groups.is_empty() && config.approvers.users.is_empty() {
        return Err(ConfigError::new("approvers", "name at least one group or user"));
    }
    let min_approvals = config.min_approvals.unwrap_or(1);
    if min_approvals == 0 {
        return Err(ConfigError::new("min_approvals", "at least 1"));
    }
    let ttl_secs = config.ttl_secs.unwrap_or(3600);
    if ttl_secs == 0 {
        return Err(ConfigError::new("ttl_secs", "at least 1"));
    }
    let deny_threshold = config.deny_threshold.unwrap_or(1);
    if deny_threshold == 0 {
        return Err(ConfigError::new("deny_threshold", "at least 1"));
    }
    let use_by_secs = config.use_by_secs.unwrap_or(warden_kit::facts::DEFAULT_USE_BY_SECS);
    if use_by_secs == 0 {
        return Err(ConfigError::new("use_by_secs", "at least 1"));
    }
    let hold_timeout_ms = config.hold_timeout_ms.unwrap_or(60_000);
    if hold_timeout_ms == 0 || hold_timeout_ms > 300_000 {
        return Err(ConfigError::new("hold_timeout_ms", "between 1 and 300000"));
    }
    if config.max_auth_age_secs == Some(0) {
        return Err(ConfigError::new("max_auth_age_secs", "at least 1 (or leave it out)"));
    }
    Ok(ApprovalRequirement {
        approvers: Requirement {
            max_auth_age_secs: config.max_auth_age_secs,
            groups: config.approvers.groups.clone(),
            users: config.approvers.users.clone(),
            min_approvals,
            all_groups: config.all_groups.unwrap_or(false),
            deny_threshold,
            pending_ttl_secs: ttl_secs,
            use_by_secs,
        },
        mode: config.mode.unwrap_or(ApprovalMode::Hold),
        hold_timeout_ms,
    })
}
