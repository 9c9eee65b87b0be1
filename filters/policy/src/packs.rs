//! Policy packs, natively (feature `packs`, never built into wasm): a folder holding
//! `policy.yaml` and `cases.yaml`, each case a request, its caller and the decision expected.
//! Decisions come from [`Policy::decide`], the code the filter runs. `warden policy
//! check|test|explain` print what this module returns.

use crate::config::{DefaultEffect, PolicyDocument};
use crate::decide::{evaluate, Decision};
use crate::request::Request;
use crate::{Policy, PolicyConfig};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use warden_kit::facts::{Actor, IdentityFact, SubjectKind, Verdict};
use warden_kit::ConfigError;
use warden_kit::StageKind;

/// Why a pack, policy file or request file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid YAML of the expected shape (the message has line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, where.
        message: String,
    },
    /// A policy does not compile.
    #[error("{file}{rule}: {error}")]
    Compile {
        /// The policy file (or `policy` when it cannot be told).
        file: String,
        /// ` (rule `id`)` when the error is inside a rule.
        rule: String,
        /// The error, naming the field.
        error: ConfigError,
    },
    /// No folder with `policy.yaml` and `cases.yaml` under the given paths.
    #[error("no policy packs (a folder with policy.yaml and cases.yaml) under the given paths")]
    NoPacks,
}

fn read_text(path: &Path) -> Result<String, PackError> {
    std::fs::read_to_string(path).map_err(|source| PackError::Read { path: path.to_path_buf(), source })
}

fn parse_yaml<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T, PackError> {
    serde_yaml_ng::from_str(text).map_err(|e| PackError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

/// A pack's `cases.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesFile {
    /// Policy default for the cases (default `deny`).
    #[serde(default)]
    pub default: Option<DefaultEffect>,
    /// Zone offset for time conditions (`+HH:MM`).
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// IANA zone for time conditions (instead of `utc_offset`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case: a request, who sends it, and the expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The request.
    #[serde(flatten)]
    pub input: CaseInput,
    /// Expected decision.
    pub expect: Expect,
    /// For a `tools/list` request: the tools a server offers and those the caller is shown.
    #[serde(default)]
    pub tools_list: Option<ToolsListCase>,
}

/// The tools a server lists and those the policy lets the caller see.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsListCase {
    /// Tool names in the server's `tools/list` result.
    pub offered: Vec<String>,
    /// Tool names left after filtering, in order.
    pub visible: Vec<String>,
}

/// A request and its caller (also the `--request` file of `explain`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseInput {
    /// The HTTP request.
    pub request: CaseRequest,
    /// The verified identity; absent for an anonymous caller.
    #[serde(default)]
    pub identity: Option<CaseIdentity>,
    /// Unix time in seconds (default 2026-01-05T10:30:00Z, a Monday).
    #[serde(default)]
    pub now: Option<u64>,
}

/// The HTTP request of a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Method (default GET).
    #[serde(default = "get")]
    pub method: String,
    /// Path with query (default `/`).
    #[serde(default = "root")]
    pub path: String,
    /// Host (default `api.example.com`).
    #[serde(default = "host")]
    pub host: String,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    #[serde(default)]
    pub body: Option<String>,
    /// Body as JSON (serialized).
    #[serde(default)]
    pub json: Option<Value>,
    /// Source address (`ip` or `ip:port`).
    #[serde(default)]
    pub source: Option<String>,
}

fn get() -> String {
    "GET".into()
}
fn root() -> String {
    "/".into()
}
fn host() -> String {
    "api.example.com".into()
}

/// The identity of a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseIdentity {
    /// Subject.
    pub subject: String,
    /// Kind (default human).
    #[serde(default)]
    pub kind: Option<SubjectKind>,
    /// Issuer (default `https://idp.example.com`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Actors, outermost first.
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Claims.
    #[serde(default)]
    pub claims: BTreeMap<String, Value>,
}

/// What a case expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Effect.
    pub effect: Verdict,
    /// Rule ids that decide (any order); checked when given.
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// Masking profiles (any order); checked when given.
    #[serde(default)]
    pub mask: Option<Vec<String>>,
    /// Dry-run rule ids (any order); checked when given.
    #[serde(default)]
    pub dry_run: Option<Vec<String>>,
}

/// Reads a policy document (YAML or JSON); errors carry the line and column.
pub fn read_document(path: &Path) -> Result<PolicyDocument, PackError> {
    parse_yaml(path, &read_text(path)?)
}

/// What a policy is recorded as in the evidence ledger: its version and the canonical JSON
/// the version is the hash of (`compile::PolicySet`). `path` holds either a policy stage's
/// configuration (with `policies`) or one policy document (as in a pack); either is
/// validated by compiling it first.
pub fn published(path: &Path) -> Result<(String, Vec<u8>), PackError> {
    let text = read_text(path)?;
    let value: Value = parse_yaml(path, &text)?;
    let config: PolicyConfig = if value.get("policies").is_some() {
        parse_yaml(path, &text)?
    } else {
        let document: PolicyDocument = parse_yaml(path, &text)?;
        PolicyConfig { policies: vec![document], ..parse_yaml(path, "policies: []")? }
    };
    let documents: Vec<(PathBuf, PolicyDocument)> =
        config.policies.iter().map(|d| (path.to_path_buf(), d.clone())).collect();
    let policy = compile(&documents, config.default, config.utc_offset.clone(), config.time_zone.clone())?;
    let set = crate::compile::PolicySet::of(&config);
    let json = set.canonical_json().map_err(|error| PackError::Compile {
        file: path.display().to_string(),
        rule: String::new(),
        error,
    })?;
    Ok((policy.version, json))
}

/// Compiles documents with a default; errors name the file and the rule id.
pub fn compile(
    documents: &[(PathBuf, PolicyDocument)],
    default: Option<DefaultEffect>,
    utc_offset: Option<String>,
    time_zone: Option<String>,
) -> Result<Policy, PackError> {
    let config = PolicyConfig {
        policies: documents.iter().map(|(_, d)| d.clone()).collect(),
        default,
        max_body_bytes: None,
        failure_mode: Default::default(),
        approval_stage: None,
        mcp_denial: Default::default(),
        tools_list: Default::default(),
        utc_offset,
        time_zone,
        sql: None,
        paths: None,
    };
    Policy::compile(config).map_err(|error| {
        let (file, rule) = locate(documents, &error.field);
        PackError::Compile { file, rule, error }
    })
}

/// The file and rule id a field path like `policies[1].rules[3].match` points into.
fn locate(documents: &[(PathBuf, PolicyDocument)], field: &str) -> (String, String) {
    let index = |key: &str| -> Option<usize> {
        let at = field.find(key)? + key.len();
        field[at..].split(']').next()?.parse().ok()
    };
    let Some((path, document)) = index("policies[").and_then(|p| documents.get(p)) else {
        return ("policy".into(), String::new());
    };
    let rule = index("rules[").and_then(|r| document.rules.get(r)).map(|r| format!(" (rule `{}`)", r.id));
    (path.display().to_string(), rule.unwrap_or_default())
}

/// What `warden policy check` reports for one policy file.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Number of rules.
    pub rules: usize,
    /// The policy version decisions cite (`sha256:` + 64 hex digits).
    pub version: String,
}

/// Reads and compiles one policy file on its own (default `deny`).
pub fn check(path: &Path) -> Result<Checked, PackError> {
    let document = read_document(path)?;
    let rules = document.rules.len();
    let policy = compile(&[(path.to_path_buf(), document)], None, None, None)?;
    Ok(Checked { rules, version: policy.version })
}

impl CaseInput {
    fn identity(&self) -> Option<IdentityFact> {
        self.identity.as_ref().map(|i| IdentityFact {
            v: 1,
            subject: i.subject.clone(),
            issuer: i.issuer.clone().unwrap_or_else(|| "https://idp.example.com".into()),
            kind: i.kind.unwrap_or(SubjectKind::Human),
            actors: i.actors.clone(),
            groups: i.groups.clone(),
            scopes: i.scopes.clone(),
            method: warden_kit::facts::IdentityMethod::Jwt,
            expires_at: None,
            claims: i.claims.clone(),
        })
    }

    fn headers(&self) -> Vec<(String, String)> {
        let r = &self.request;
        let mut headers = vec![
            (":method".to_string(), r.method.clone()),
            (":path".to_string(), r.path.clone()),
            (":authority".to_string(), r.host.clone()),
        ];
        headers.extend(r.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        headers
    }

    fn body(&self) -> Vec<u8> {
        match (&self.request.json, &self.request.body) {
            (Some(json), _) => json.to_string().into_bytes(),
            (None, Some(text)) => text.clone().into_bytes(),
            (None, None) => Vec::new(),
        }
    }

    /// Runs `work` over this input as the filter's [`Request`].
    fn with_request<R>(&self, policy: &Policy, work: impl FnOnce(&Request<'_>) -> R) -> R {
        let identity = self.identity();
        let headers = self.headers();
        let now = self.now.unwrap_or(1_767_609_000);
        work(&Request::new(&headers, self.request.source.as_deref(), identity.as_ref(), now).for_policy(policy))
    }

    /// The offered tools this request's caller is shown (each decided as a call).
    pub fn visible_tools(&self, policy: &Policy, offered: &[String]) -> Vec<String> {
        self.with_request(policy, |request| {
            offered.iter().filter(|tool| crate::tools_list::may_call(policy, request, tool)).cloned().collect()
        })
    }

    /// Decides this request as the filter would (the body is read when a rule needs it).
    pub fn decide(&self, policy: &Policy) -> Decision {
        let body = self.body();
        self.with_request(policy, |request| policy.decide(request, &body))
    }

    /// The decision, then how each rule judged the request (with its body).
    pub fn explain(&self, policy: &Policy) -> Explanation {
        let body = self.body();
        self.with_request(policy, |request| {
            let with_body = request.with_body(&body);
            let rules = policy
                .rules
                .iter()
                .map(|rule| Judgement {
                    rule: rule.id.clone(),
                    effect: rule.effect,
                    dry_run: rule.dry_run,
                    missed: evaluate(policy, rule, &with_body).err(),
                })
                .collect();
            Explanation { decision: policy.decide(request, &body), rules }
        })
    }
}

/// A decision and how every rule judged the request.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// What the policy decided.
    pub decision: Decision,
    /// Each rule, in the order written.
    pub rules: Vec<Judgement>,
}

/// How one rule judged a request.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// Rule id.
    pub rule: String,
    /// Its effect.
    pub effect: warden_kit::facts::RuleEffect,
    /// Whether it is a dry-run rule.
    pub dry_run: bool,
    /// The first condition that did not hold; `None` when the rule matched.
    pub missed: Option<crate::decide::Miss>,
}

fn same_set(actual: &[String], expected: &[String]) -> bool {
    let mut a = actual.to_vec();
    let mut b = expected.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// Differences between a decision and what a case expects (empty when it passes).
pub fn mismatches(decision: &Decision, expect: &Expect) -> Vec<String> {
    let fact = &decision.fact;
    let mut out = Vec::new();
    if fact.effect != expect.effect {
        out.push(format!("effect {:?}, expected {:?}", fact.effect, expect.effect));
    }
    if let Some(rules) = &expect.rules {
        if !same_set(&fact.rules, rules) {
            out.push(format!("rules {:?}, expected {rules:?}", fact.rules));
        }
    }
    if let Some(mask) = &expect.mask {
        let profiles: Vec<String> = fact.mask.iter().map(|m| m.profile.clone()).collect();
        if !same_set(&profiles, mask) {
            out.push(format!("mask {profiles:?}, expected {mask:?}"));
        }
    }
    if let Some(dry) = &expect.dry_run {
        let ids: Vec<String> = fact.dry_run.iter().map(|d| d.rule.clone()).collect();
        if !same_set(&ids, dry) {
            out.push(format!("dry_run {ids:?}, expected {dry:?}"));
        }
    }
    out
}

/// Pack folders (holding `policy.yaml` and `cases.yaml`) under `paths`, sorted.
pub fn find_packs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PackError> {
    let mut found = Vec::new();
    for path in paths {
        let dir = if path.is_file() { path.parent().map(Path::to_path_buf).unwrap_or_default() } else { path.clone() };
        if dir.join("policy.yaml").is_file() && dir.join("cases.yaml").is_file() {
            found.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| PackError::Read { path: dir.clone(), source })?;
        let mut children: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        children.sort();
        found.extend(find_packs(&children)?);
    }
    Ok(found)
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// How the decision differed from the expectation (empty: passed).
    pub problems: Vec<String>,
    /// The decision's reasons (to show with a failure).
    pub reasons: Vec<String>,
}

/// Runs the cases of the pack in `dir`.
pub fn run_pack(dir: &Path) -> Result<Vec<CaseResult>, PackError> {
    let policy_file = dir.join("policy.yaml");
    let document = read_document(&policy_file)?;
    let cases_file = dir.join("cases.yaml");
    let cases: CasesFile = parse_yaml(&cases_file, &read_text(&cases_file)?)?;
    let policy = compile(&[(policy_file, document)], cases.default, cases.utc_offset.clone(), cases.time_zone.clone())?;
    Ok(cases
        .cases
        .iter()
        .map(|case| {
            let decision = case.input.decide(&policy);
            let mut problems = mismatches(&decision, &case.expect);
            if let Some(list) = &case.tools_list {
                let visible = case.input.visible_tools(&policy, &list.offered);
                if visible != list.visible {
                    problems.push(format!("tools shown {visible:?}, expected {:?}", list.visible));
                }
            }
            CaseResult { name: case.name.clone(), problems, reasons: decision.fact.reasons }
        })
        .collect())
}

/// Reads an `explain` request file (request, identity, now: as in `cases.yaml`).
pub fn read_input(path: &Path) -> Result<CaseInput, PackError> {
    parse_yaml(path, &read_text(path)?)
}

/// Reads and compiles a policy file on its own, with `default`.
pub fn compile_file(path: &Path, default: Option<DefaultEffect>) -> Result<Policy, PackError> {
    compile(&[(path.to_path_buf(), read_document(path)?)], default, None, None)
}
