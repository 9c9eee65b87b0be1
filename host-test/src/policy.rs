//! `warden policy`: tools for policy authors. `check` validates and compiles policy files,
//! `test` runs each pack's `cases.yaml`, `explain` shows how each rule judged one request.
//! Decisions come from the same code the filter runs (`warden-policy`, natively).

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use warden_kit::facts::{Actor, Effect, IdentityFact, SubjectKind};
use warden_policy::config::{DefaultEffect, PolicyDocument};
use warden_policy::decide::{decide_body, decide_headers, evaluate, Decision, Early};
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

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
    pub effect: Effect,
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
pub fn read_document(path: &Path) -> anyhow::Result<PolicyDocument> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Compiles documents with a default; errors name the file and the rule id.
pub fn compile(
    documents: &[(PathBuf, PolicyDocument)],
    default: Option<DefaultEffect>,
    utc_offset: Option<String>,
    time_zone: Option<String>,
) -> anyhow::Result<Policy> {
    let config = PolicyConfig {
        policies: documents.iter().map(|(_, d)| d.clone()).collect(),
        default,
        max_body_bytes: None,
        failure_mode: Default::default(),
        approval_stage: true,
        mcp_denial: Default::default(),
        tools_list: Default::default(),
        utc_offset,
        time_zone,
    };
    Policy::compile(config).map_err(|err| {
        let (file, rule) = locate(documents, &err.field);
        anyhow!("{file}{rule}: {err}")
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

/// `warden policy check`: every file compiles; prints one line per file.
pub fn check(paths: &[PathBuf]) -> anyhow::Result<bool> {
    let mut ok = true;
    for path in paths {
        let result = read_document(path).and_then(|d| {
            let rules = d.rules.len();
            compile(&[(path.clone(), d)], None, None, None).map(|_| rules)
        });
        match result {
            Ok(rules) => println!("OK   {} ({rules} rules)", path.display()),
            Err(err) => {
                ok = false;
                println!("FAIL {err:#}");
            }
        }
    }
    Ok(ok)
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
            method: "jwt".into(),
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

    fn body(&self) -> Option<Vec<u8>> {
        match (&self.request.json, &self.request.body) {
            (Some(json), _) => Some(json.to_string().into_bytes()),
            (None, Some(text)) => Some(text.clone().into_bytes()),
            (None, None) => None,
        }
    }

    fn source(&self) -> Option<String> {
        self.request.source.clone()
    }

    fn now(&self) -> u64 {
        self.now.unwrap_or(1_767_609_000)
    }

    /// The offered tools this request's caller is shown (each decided as a call).
    pub fn visible_tools(&self, policy: &Policy, offered: &[String]) -> Vec<String> {
        let identity = self.identity();
        let headers = self.headers();
        let source = self.source();
        let request = Request::new(&headers, source.as_deref(), identity.as_ref(), self.now());
        offered.iter().filter(|tool| warden_policy::tools_list::may_call(policy, &request, tool)).cloned().collect()
    }

    /// Decides this request as the filter would (the body is read when a rule needs it).
    pub fn decide(&self, policy: &Policy) -> Decision {
        let identity = self.identity();
        let headers = self.headers();
        let source = self.source();
        let request = Request::new(&headers, source.as_deref(), identity.as_ref(), self.now());
        match decide_headers(policy, &request) {
            Early::Decided(decision) => *decision,
            Early::NeedBody => decide_body(policy, &request, &self.body().unwrap_or_default()),
        }
    }
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

/// Pack directories (holding `policy.yaml` and `cases.yaml`) under `paths`.
fn packs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        let dir = if path.is_file() { path.parent().map(Path::to_path_buf).unwrap_or_default() } else { path.clone() };
        if dir.join("policy.yaml").is_file() && dir.join("cases.yaml").is_file() {
            found.push(dir);
            continue;
        }
        let mut children: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        found.extend(packs(&children)?);
    }
    Ok(found)
}

/// `warden policy test`: runs every pack's cases; prints failures and `N passed, M failed`.
pub fn test(paths: &[PathBuf]) -> anyhow::Result<bool> {
    let dirs = packs(paths)?;
    if dirs.is_empty() {
        bail!("no policy packs (a folder with policy.yaml and cases.yaml) under the given paths");
    }
    let (mut passed, mut failed) = (0, 0);
    for dir in dirs {
        let policy_file = dir.join("policy.yaml");
        let document = read_document(&policy_file)?;
        let cases_file = dir.join("cases.yaml");
        let text = std::fs::read_to_string(&cases_file)?;
        let cases: CasesFile = serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: {e}", cases_file.display()))?;
        let policy =
            compile(&[(policy_file, document)], cases.default, cases.utc_offset.clone(), cases.time_zone.clone())?;
        for case in &cases.cases {
            let decision = case.input.decide(&policy);
            let mut problems = mismatches(&decision, &case.expect);
            if let Some(list) = &case.tools_list {
                let visible = case.input.visible_tools(&policy, &list.offered);
                if visible != list.visible {
                    problems.push(format!("tools shown {visible:?}, expected {:?}", list.visible));
                }
            }
            if problems.is_empty() {
                passed += 1;
            } else {
                failed += 1;
                println!("FAIL {}: {}", dir.display(), case.name);
                for problem in problems {
                    println!("    {problem}");
                }
                println!("    reasons: {:?}", decision.fact.reasons);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// `warden policy explain`: the decision, then for each rule whether and why it matched.
pub fn explain(policy_file: &Path, request_file: &Path, default: Option<DefaultEffect>) -> anyhow::Result<bool> {
    let document = read_document(policy_file)?;
    let policy = compile(&[(policy_file.to_path_buf(), document)], default, None, None)?;
    let text =
        std::fs::read_to_string(request_file).with_context(|| format!("cannot read {}", request_file.display()))?;
    let input: CaseInput = serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: {e}", request_file.display()))?;
    let decision = input.decide(&policy);
    println!("decision: {}", serde_json::to_string(&decision.fact)?);
    let identity = input.identity();
    let headers = input.headers();
    let source = input.source();
    let request = Request::new(&headers, source.as_deref(), identity.as_ref(), input.now());
    let body = input.body().unwrap_or_default();
    let with_body = request.with_body(&body);
    for rule in &policy.rules {
        let verdict = match evaluate(&policy, rule, &with_body) {
            Ok(()) => "matched".to_string(),
            Err(condition) => format!("no match ({condition})"),
        };
        let mode = if rule.dry_run { " [dry run]" } else { "" };
        let effect = serde_json::to_value(rule.effect)?.as_str().unwrap_or_default().to_string();
        println!("  {:<40} {:<18} {verdict}{mode}", rule.id, effect);
    }
    Ok(true)
}
