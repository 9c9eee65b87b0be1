//! Rule evaluation and combination: pure functions of the compiled policy and the request.
//!
//! Combination is order-independent: any matching `deny` wins, then `require_approval` (the
//! strictest requirement), then `allow`, else the policy default. Dry-run rules are recorded
//! and never change the outcome; `log` rules are recorded. For an MCP batch every call is
//! decided on its own and the batch gets the strictest outcome (allowed only if every call is).

use crate::compile::{Policy, Rule};
use crate::config::DefaultEffect;
use crate::request::Request;
use crate::when::When;
use serde_json::Value;
use warden_kit::facts::{ActionFact, DecisionFact, DryRunOutcome, MaskObligation, RuleEffect, Verdict, VERSION};

/// Why a rule did not match: the first condition that failed.
pub type Miss = &'static str;

/// Outcome of the headers phase.
#[derive(Debug)]
pub enum Early {
    /// Decided without the body.
    Decided(Box<Decision>),
    /// A rule that reads the body may match: buffer it and decide then.
    NeedBody,
}

/// A decision with what the proxy needs to act on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The fact handed to later stages.
    pub fact: DecisionFact,
    /// Caller-facing message of a denial (from the deciding rules).
    pub message: String,
    /// Refused before any rule: the path is ambiguous (why), answered 400 `ambiguous_path`.
    pub ambiguous_path: Option<&'static str>,
}

impl Policy {
    /// Decides a whole request: from the headers alone when no rule that reads the body can
    /// match, else with `body` (empty when there is none). The sequence `warden policy`, policy
    /// packs and tests share; the stage runs the same two steps in its two phases.
    pub fn decide(&self, request: &Request<'_>, body: &[u8]) -> Decision {
        match decide_headers(self, request) {
            Early::Decided(decision) => *decision,
            Early::NeedBody => decide_body(self, request, body),
        }
    }
}

/// Decides from the headers alone when no body rule can match; an enforcing deny that needs
/// no body decides at once (deny always wins, whatever the body says).
pub fn decide_headers(policy: &Policy, request: &Request<'_>) -> Early {
    if policy.refuses_ambiguous_paths {
        if let Some(why) = crate::paths::ambiguity(request.path) {
            let mut decision = combine(policy, &[]);
            decision.fact.effect = Verdict::Deny;
            decision.fact.reasons = vec![format!("ambiguous path: {why}")];
            decision.message = format!("the path holds {why}, which servers read differently: send it normalized");
            decision.ambiguous_path = Some(why);
            return Early::Decided(Box::new(decision));
        }
    }
    let mut candidates = Vec::new();
    policy.index.candidates(request.match_path(), &mut candidates);
    let mut matched = Vec::new();
    let mut body_may_match = false;
    for &i in &candidates {
        let rule = &policy.rules[i as usize];
        if rule.needs_body {
            body_may_match |= headers_match(policy, rule, request).is_ok();
        } else if evaluate(policy, rule, request).is_ok() {
            matched.push(rule);
        }
    }
    let denied = matched.iter().any(|r| !r.dry_run && r.effect == RuleEffect::Deny);
    if body_may_match && !denied {
        return Early::NeedBody;
    }
    Early::Decided(Box::new(combine(policy, &matched)))
}

/// Decides with the body (every candidate rule, body conditions included).
pub fn decide_body(policy: &Policy, request: &Request<'_>, body: &[u8]) -> Decision {
    let with_body = request.with_body(body);
    let mut action = ActionFact::default();
    let mut decision = match with_body.mcp_calls() {
        Some((calls, true)) => {
            let decisions: Vec<Decision> = calls
                .iter()
                .map(|call| {
                    let one = with_body.for_call(call);
                    let decision = decide_all(policy, &one);
                    one.read_sql_into(&mut action);
                    decision
                })
                .collect();
            strictest(decisions)
        }
        _ => decide_all(policy, &with_body),
    };
    let unreadable = candidate_rules(policy, &with_body)
        .find_map(|rule| unreadable_for(rule, &with_body).filter(|_| headers_match(policy, rule, &with_body).is_ok()));
    if let Some(why) = unreadable {
        let reason = format!(
            "request body unreadable ({why}): rules that read it count as matched if they deny or need approval"
        );
        decision.fact.reasons.push(reason);
    }
    with_body.read_sql_into(&mut action);
    with_body.read_mcp_into(&mut action);
    if action != ActionFact::default() {
        decision.fact.action = Some(action);
    }
    decision
}

/// The rules the request's path may match.
fn candidate_rules<'p>(policy: &'p Policy, request: &Request<'_>) -> impl Iterator<Item = &'p Rule> {
    let mut candidates = Vec::new();
    policy.index.candidates(request.match_path(), &mut candidates);
    candidates.into_iter().map(move |i| &policy.rules[i as usize]).filter(|rule| rule.needs_body)
}

fn decide_all(policy: &Policy, request: &Request<'_>) -> Decision {
    let mut candidates = Vec::new();
    policy.index.candidates(request.match_path(), &mut candidates);
    let matched: Vec<&Rule> = candidates
        .iter()
        .map(|&i| &policy.rules[i as usize])
        .filter(|rule| evaluate(policy, rule, request).is_ok())
        .collect();
    combine(policy, &matched)
}

/// The strictest of per-call decisions: deny, then approval, then allow.
fn strictest(decisions: Vec<Decision>) -> Decision {
    let rank = |d: &Decision| match d.fact.effect {
        Verdict::Deny => 2,
        Verdict::RequireApproval => 1,
        Verdict::Allow => 0,
    };
    let worst = decisions.iter().map(rank).max().unwrap_or(0);
    let mut merged: Option<Decision> = None;
    for decision in decisions.into_iter().filter(|d| rank(d) == worst) {
        match &mut merged {
            None => merged = Some(decision),
            Some(m) => {
                for rule in decision.fact.rules {
                    if !m.fact.rules.contains(&rule) {
                        m.fact.rules.push(rule);
                    }
                }
                for reason in decision.fact.reasons {
                    if !m.fact.reasons.contains(&reason) {
                        m.fact.reasons.push(reason);
                    }
                }
                m.fact.dry_run.extend(decision.fact.dry_run);
                m.fact.logged.extend(decision.fact.logged);
                m.fact.mask.extend(decision.fact.mask);
            }
        }
    }
    merged.unwrap_or_else(|| Decision {
        fact: DecisionFact {
            v: VERSION,
            effect: Verdict::Deny,
            rules: vec![],
            reasons: vec!["empty batch".into()],
            policy: String::new(),
            mask: vec![],
            approval: None,
            dry_run: vec![],
            logged: vec![],
            action: None,
        },
        message: "denied by policy".into(),
        ambiguous_path: None,
    })
}

/// Combines matched rules into a decision (order-independent).
pub fn combine(policy: &Policy, matched: &[&Rule]) -> Decision {
    let enforced = |effect: RuleEffect| -> Vec<&Rule> {
        matched.iter().copied().filter(|r| !r.dry_run && r.effect == effect).collect()
    };
    let (deny, approve, allow) =
        (enforced(RuleEffect::Deny), enforced(RuleEffect::RequireApproval), enforced(RuleEffect::Allow));
    let mut fact = DecisionFact {
        v: VERSION,
        effect: Verdict::Deny,
        rules: vec![],
        reasons: vec![],
        policy: policy.version.clone(),
        mask: vec![],
        approval: None,
        dry_run: matched
            .iter()
            .filter(|r| r.dry_run)
            .map(|r| DryRunOutcome { rule: r.id.clone(), effect: r.effect })
            .collect(),
        logged: matched.iter().filter(|r| !r.dry_run && r.effect == RuleEffect::Log).map(|r| r.id.clone()).collect(),
        action: None,
    };
    let mut message = String::from("denied by policy");
    let deciding: Vec<&Rule> = if !deny.is_empty() {
        fact.effect = Verdict::Deny;
        message = deny.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; ");
        fact.reasons = deny.iter().map(|r| format!("{}: {}", r.id, r.message)).collect();
        deny
    } else if !approve.is_empty() {
        fact.effect = Verdict::RequireApproval;
        fact.approval = approve.iter().filter_map(|r| r.approval.clone()).max_by(|a, b| {
            (
                a.approvers.min_approvals,
                std::cmp::Reverse(a.approvers.pending_ttl_secs),
                a.mode == warden_kit::facts::ApprovalMode::Hold,
            )
                .cmp(&(
                    b.approvers.min_approvals,
                    std::cmp::Reverse(b.approvers.pending_ttl_secs),
                    b.mode == warden_kit::facts::ApprovalMode::Hold,
                ))
        });
        // Step-up asked by any matching rule holds, its tightest bound.
        let step_up = approve.iter().filter_map(|r| r.approval.as_ref()?.approvers.max_auth_age_secs).min();
        if let Some(approval) = fact.approval.as_mut() {
            approval.approvers.max_auth_age_secs = step_up;
        }
        fact.reasons = approve.iter().map(|r| format!("{}: approval required", r.id)).collect();
        approve
    } else if !allow.is_empty() {
        fact.effect = Verdict::Allow;
        fact.reasons = allow
            .iter()
            .map(|r| format!("{}: {}", r.id, if r.description.is_empty() { "allowed" } else { &r.description }))
            .collect();
        allow
    } else {
        fact.effect = match policy.default {
            DefaultEffect::Allow => Verdict::Allow,
            DefaultEffect::Deny => Verdict::Deny,
        };
        fact.reasons = vec![match policy.default {
            DefaultEffect::Allow => "no rule matched (default allow)".into(),
            DefaultEffect::Deny => "no rule allowed the request (default deny)".into(),
        }];
        Vec::new()
    };
    fact.rules = deciding.iter().map(|r| r.id.clone()).collect();
    if fact.effect != Verdict::Deny {
        let contributing = matched
            .iter()
            .filter(|r| !r.dry_run && matches!(r.effect, RuleEffect::Allow | RuleEffect::RequireApproval));
        for mask in contributing.filter_map(|r| r.mask.as_ref()) {
            merge_mask(&mut fact.mask, mask);
        }
    }
    Decision { fact, message, ambiguous_path: None }
}

fn merge_mask(into: &mut Vec<MaskObligation>, mask: &MaskObligation) {
    match into.iter_mut().find(|m| m.profile == mask.profile) {
        Some(existing) => {
            existing.request |= mask.request;
            existing.response |= mask.response;
        }
        None => into.push(mask.clone()),
    }
}

/// Conditions that need no body.
pub fn headers_match(policy: &Policy, rule: &Rule, request: &Request<'_>) -> Result<(), Miss> {
    if !rule.methods.is_empty() && !rule.methods.iter().any(|m| m == request.method) {
        return Err("method");
    }
    if !rule.hosts.is_empty() && !rule.hosts.iter().any(|h| h.matches(&request.host)) {
        return Err("host");
    }
    if !rule.paths.is_empty() && !rule.paths.iter().any(|p| p.matches(request.match_path())) {
        return Err("path");
    }
    if !rule.query.iter().all(|(name, m)| m.matches(request.query_param(name))) {
        return Err("query");
    }
    if !rule.headers.iter().all(|(name, m)| m.matches(request.header(name))) {
        return Err("headers");
    }
    if !rule.sources.is_empty() && !request.source.is_some_and(|ip| rule.sources.iter().any(|c| c.contains(ip))) {
        return Err("source");
    }
    if let Some(matcher) = &rule.identity {
        identity_matches(matcher, request)?;
    }
    if let Some(window) = &rule.time {
        if !window.contains(request.now_secs, policy.zone.offset_at(request.now_secs)) {
            return Err("time");
        }
    }
    if !rule.needs_body {
        if let Some(program) = &rule.when {
            when_holds(policy, rule, program, request)?;
        }
    }
    Ok(())
}

/// Every condition of `rule` (the body ones only when the body is there).
pub fn evaluate(policy: &Policy, rule: &Rule, request: &Request<'_>) -> Result<(), Miss> {
    headers_match(policy, rule, request)?;
    if !rule.needs_body {
        return Ok(());
    }
    if request.body.is_none() {
        return Err("body not read");
    }
    if let Some(_why) = unreadable_for(rule, request) {
        // What the rule would read cannot be read as the upstream will read it: a rule that
        // denies or asks for approval counts as matched (fail closed), any other does not.
        return if matches!(rule.effect, RuleEffect::Deny | RuleEffect::RequireApproval) {
            match &rule.when {
                Some(when) => when_holds(policy, rule, when, request),
                None => Ok(()),
            }
        } else {
            Err("body unreadable")
        };
    }
    for (pointer, m) in &rule.body {
        let value = request.json().and_then(|j| j.pointer(pointer)).map(text);
        if !m.matches(value.as_deref()) {
            return Err("body");
        }
    }
    if let Some(mcp) = &rule.mcp {
        let calls = request.calls_in_scope();
        let any = calls.iter().any(|call| {
            (mcp.methods.is_empty() || mcp.methods.contains(&call.method))
                && (mcp.tools.is_empty()
                    || call.tool.as_deref().is_some_and(|t| mcp.tools.iter().any(|p| p.matches(t))))
                && mcp.arguments.iter().all(|(pointer, m)| {
                    let value = call.arguments.pointer(pointer).map(text);
                    m.matches(value.as_deref())
                })
        });
        if !any {
            return Err("mcp");
        }
    }
    if let Some(sql) = &rule.sql {
        let facts = request.sql(sql.pointer.as_deref()).ok_or("sql")?;
        if !sql.classes.is_empty() && !sql.classes.iter().any(|c| facts.classes.contains(c)) {
            return Err("sql");
        }
        if sql.destructive.is_some_and(|d| d != facts.destructive) {
            return Err("sql");
        }
        // Unparsed SQL touches unknown tables: it may touch any of them.
        if !sql.tables.is_empty() && facts.parsed && !sql.tables.iter().any(|t| facts.tables.contains(t)) {
            return Err("sql");
        }
    }
    if let Some(when) = &rule.when {
        when_holds(policy, rule, when, request)?;
    }
    Ok(())
}

/// Why `rule`'s body matchers cannot read the request's body, if they cannot: no rule can
/// read compressed bytes, a byte order mark or bytes that are not UTF-8
/// ([`Request::unreadable_bytes`]); JSON matchers (`body`, `mcp`, `sql` with a pointer) need
/// strict JSON ([`Request::unreadable_json`]), and `sql` needs the value at its pointer to be
/// a string.
pub fn unreadable_for(rule: &Rule, request: &Request<'_>) -> Option<&'static str> {
    if let Some(why) = request.unreadable_bytes() {
        return Some(why);
    }
    let reads_json =
        !rule.body.is_empty() || rule.mcp.is_some() || rule.sql.as_ref().is_some_and(|s| s.pointer.is_some());
    if reads_json {
        if let Some(why) = request.unreadable_json() {
            return Some(why);
        }
    }
    if let Some(pointer) = rule.sql.as_ref().and_then(|s| s.pointer.as_ref()) {
        let value = request.json().and_then(|json| json.pointer(pointer));
        if value.is_some_and(|v| !v.is_string()) {
            return Some("the SQL is not a string");
        }
    }
    None
}

/// A CEL condition. An evaluation error counts as a match for deny and approval rules (fail
/// closed) and as no match for the others.
fn when_holds(policy: &Policy, rule: &Rule, when: &When, request: &Request<'_>) -> Result<(), Miss> {
    match when.evaluate(request.cel_variables(policy), || request.cel_context(policy)) {
        Ok(true) => Ok(()),
        Ok(false) => Err("when"),
        Err(_) if matches!(rule.effect, RuleEffect::Deny | RuleEffect::RequireApproval) => Ok(()),
        Err(_) => Err("when (not a boolean)"),
    }
}

fn identity_matches(m: &crate::compile::IdentityMatcher, request: &Request<'_>) -> Result<(), Miss> {
    let Some(identity) = request.identity else {
        return if m.anonymous == Some(true) || (m.anonymous.is_none() && only_anonymity(m)) {
            Ok(())
        } else {
            Err("identity (anonymous)")
        };
    };
    if m.anonymous == Some(true) {
        return Err("identity (not anonymous)");
    }
    if !m.subjects.is_empty() && !m.subjects.iter().any(|p| p.matches(&identity.subject)) {
        return Err("identity.subjects");
    }
    if !m.kinds.is_empty() && !m.kinds.contains(&identity.kind) {
        return Err("identity.kinds");
    }
    if !m.groups.is_empty() && !m.groups.iter().any(|g| identity.groups.contains(g)) {
        return Err("identity.groups");
    }
    if !m.scopes.is_empty() && !m.scopes.iter().any(|s| identity.scopes.contains(s)) {
        return Err("identity.scopes");
    }
    if !m.issuers.is_empty() && !m.issuers.contains(&identity.issuer) {
        return Err("identity.issuers");
    }
    if !m.actors.is_empty() && !identity.actors.iter().any(|a| m.actors.iter().any(|p| p.matches(&a.subject))) {
        return Err("identity.actors");
    }
    if !m.acting_kinds.is_empty()
        && !m.acting_kinds.contains(&identity.kind)
        && !identity.actors.iter().any(|a| m.acting_kinds.contains(&a.kind))
    {
        return Err("identity.acting_kinds");
    }
    if m.delegated.is_some_and(|d| d == identity.actors.is_empty()) {
        return Err("identity.delegated");
    }
    for (name, want) in &m.claims {
        let ok = match identity.claims.get(name) {
            Some(Value::String(s)) => s == want,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(want.as_str())),
            Some(other) => text(other) == *want,
            None => false,
        };
        if !ok {
            return Err("identity.claims");
        }
    }
    Ok(())
}

/// An identity block with no condition at all (`identity: {}`) matches anyone.
fn only_anonymity(m: &crate::compile::IdentityMatcher) -> bool {
    m.subjects.is_empty()
        && m.kinds.is_empty()
        && m.groups.is_empty()
        && m.scopes.is_empty()
        && m.issuers.is_empty()
        && m.actors.is_empty()
        && m.acting_kinds.is_empty()
        && m.delegated.is_none()
        && m.claims.is_empty()
}

/// A JSON value as text for comparison: strings as themselves, the rest as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
