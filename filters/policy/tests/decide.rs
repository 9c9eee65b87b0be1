//! Decisions as a user of policies sees them: combination, dry run, obligations, identity,
//! MCP batches, SQL and CEL, and the order-independence property.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use warden_kit::facts::{Actor, IdentityFact, SubjectKind, Verdict};
use warden_kit::StageKind;
use warden_policy::decide::{decide_headers, Decision, Early};
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

fn policy(yaml: &str) -> Policy {
    let config: PolicyConfig = serde_yaml_ng::from_str(yaml).unwrap();
    Policy::compile(config).unwrap()
}

fn headers(method: &str, path: &str) -> Vec<(String, String)> {
    vec![
        (":method".into(), method.into()),
        (":path".into(), path.into()),
        (":authority".into(), "api.example.com".into()),
    ]
}

fn person(groups: &[&str]) -> IdentityFact {
    IdentityFact {
        v: 1,
        subject: "alice".into(),
        issuer: "https://idp".into(),
        kind: SubjectKind::Human,
        actors: vec![],
        groups: groups.iter().map(|g| g.to_string()).collect(),
        scopes: vec![],
        method: warden_kit::facts::IdentityMethod::Jwt,
        expires_at: None,
        claims: Default::default(),
    }
}

fn agent_for_alice() -> IdentityFact {
    IdentityFact { actors: vec![Actor { subject: "agent:coder".into(), kind: SubjectKind::Agent }], ..person(&[]) }
}

/// Decides a request fully (the body, if any, is read).
fn decide(policy: &Policy, method: &str, path: &str, identity: Option<&IdentityFact>, body: Option<&str>) -> Decision {
    let headers = headers(method, path);
    let request = Request::new(&headers, Some("10.0.0.5:5555"), identity, 1_767_609_000);
    policy.decide(&request, body.unwrap_or_default().as_bytes())
}

const MIXED: &str = r#"
policies:
  - name: mixed
    rules:
      - {id: allow-api, match: {paths: [{prefix: /api}]}, effect: allow, mask: {profile: pii}}
      - {id: deny-admin, match: {paths: [{prefix: /api/admin}]}, effect: deny, message: no admin}
      - id: approve-deletes
        match: {methods: [DELETE], paths: [{prefix: /api}]}
        effect: require_approval
        approval: {approvers: {groups: [sre]}, min_approvals: 1, ttl_secs: 600}
      - id: approve-deletes-strict
        match: {methods: [DELETE], paths: [{prefix: /api/prod}]}
        effect: require_approval
        approval: {approvers: {users: [bob]}, min_approvals: 2}
      - {id: log-everything, match: {}, effect: log}
      - {id: would-deny-reports, mode: dry_run, match: {paths: [{glob: "/api/*/reports"}]}, effect: deny}
"#;

#[test]
fn deny_wins_over_approval_and_allow() {
    let p = policy(MIXED);
    let d = decide(&p, "DELETE", "/api/admin/users", Some(&person(&[])), None);
    assert_eq!(d.fact.effect, Verdict::Deny);
    assert_eq!(d.fact.rules, ["deny-admin"]);
    assert_eq!(d.message, "no admin");
    assert!(d.fact.mask.is_empty(), "no obligations on a denial");
}

#[test]
fn the_strictest_approval_requirement_wins_and_obligations_carry_over() {
    let p = policy(MIXED);
    let d = decide(&p, "DELETE", "/api/prod/db", Some(&person(&[])), None);
    assert_eq!(d.fact.effect, Verdict::RequireApproval);
    assert_eq!(d.fact.rules, ["approve-deletes", "approve-deletes-strict"]);
    let approval = d.fact.approval.unwrap();
    assert_eq!((approval.approvers.min_approvals, approval.approvers.users), (2, vec!["bob".to_string()]));
    assert_eq!(d.fact.mask.len(), 1, "the allow rule's masking obligation applies");
}

#[test]
fn allow_with_logs_and_dry_runs_recorded() {
    let p = policy(MIXED);
    let d = decide(&p, "GET", "/api/v1/reports", Some(&person(&[])), None);
    assert_eq!(d.fact.effect, Verdict::Allow);
    assert_eq!(d.fact.rules, ["allow-api"]);
    assert_eq!(d.fact.logged, ["log-everything"]);
    assert_eq!(d.fact.dry_run.len(), 1, "recorded, not enforced");
    assert!(d.fact.policy.starts_with("sha256:"));
}

#[test]
fn nothing_matching_falls_to_the_default() {
    let p = policy(MIXED);
    let d = decide(&p, "GET", "/other", None, None);
    assert_eq!(d.fact.effect, Verdict::Deny);
    assert!(d.fact.rules.is_empty());
    assert!(d.fact.reasons[0].contains("default deny"));
    let open = policy(&format!("default: allow\n{MIXED}"));
    assert_eq!(decide(&open, "GET", "/other", None, None).fact.effect, Verdict::Allow);
}

#[test]
fn near_misses_do_not_match() {
    let p = policy(MIXED);
    // `/apiary` starts with `/api` (prefix is not segment-aware: documented), but `/ap` does not.
    assert_eq!(decide(&p, "GET", "/ap", None, None).fact.effect, Verdict::Deny);
    // A glob segment does not cross `/`.
    assert!(decide(&p, "GET", "/api/v1/x/reports", None, None).fact.dry_run.is_empty());
    // DELETE rules need DELETE.
    assert_eq!(decide(&p, "POST", "/api/prod/db", None, None).fact.effect, Verdict::Allow);
}

#[test]
fn identity_conditions_see_agents_acting_for_people() {
    let p = policy(
        r#"
default: allow
policies:
  - name: agents
    rules:
      - {id: agents-no-admin, match: {paths: [{prefix: /admin}], identity: {acting_kinds: [agent]}}, effect: deny}
      - {id: anonymous-no-admin, match: {paths: [{prefix: /admin}], identity: {anonymous: true}}, effect: deny}
      - {id: ops-only, match: {paths: [{prefix: /ops}], identity: {groups: [ops]}}, effect: allow}
"#,
    );
    assert_eq!(decide(&p, "GET", "/admin", Some(&agent_for_alice()), None).fact.rules, ["agents-no-admin"]);
    assert_eq!(decide(&p, "GET", "/admin", Some(&person(&[])), None).fact.effect, Verdict::Allow);
    assert_eq!(decide(&p, "GET", "/admin", None, None).fact.rules, ["anonymous-no-admin"]);
    assert_eq!(decide(&p, "GET", "/ops", Some(&person(&["ops"])), None).fact.rules, ["ops-only"]);
    assert!(decide(&p, "GET", "/ops", Some(&person(&["dev"])), None).fact.rules.is_empty());
}

#[test]
fn cel_conditions_read_request_identity_and_body() {
    let p = policy(
        r#"
default: allow
policies:
  - name: cel
    rules:
      - id: big-transfers
        match: {paths: [{exact: /transfer}]}
        when: "identity.kind == 'human' && body.amount > 10000"
        effect: require_approval
        approval: {approvers: {groups: [finance]}}
      - id: header-check
        when: "has(request.headers.x_debug) || (has(request.query.debug) && request.query.debug == 'true')"
        effect: deny
"#,
    );
    let big = decide(&p, "POST", "/transfer", Some(&person(&[])), Some(r#"{"amount": 20000}"#));
    assert_eq!(big.fact.effect, Verdict::RequireApproval);
    let small = decide(&p, "POST", "/transfer", Some(&person(&[])), Some(r#"{"amount": 20}"#));
    assert_eq!(small.fact.effect, Verdict::Allow);
    assert_eq!(decide(&p, "GET", "/x?debug=true", None, None).fact.rules, ["header-check"]);
}

#[test]
fn a_cel_error_fails_closed_for_deny_rules_only() {
    let p = policy(
        r#"
default: allow
policies:
  - name: cel
    rules:
      - {id: deny-on-error, when: "request.nothing.here == 1", effect: deny}
"#,
    );
    assert_eq!(decide(&p, "GET", "/", None, None).fact.effect, Verdict::Deny);
    let allow = policy(
        r#"
policies:
  - name: cel
    rules:
      - {id: allow-on-error, when: "request.nothing.here == 1", effect: allow}
"#,
    );
    assert_eq!(decide(&allow, "GET", "/", None, None).fact.effect, Verdict::Deny, "falls to the default deny");
}

#[test]
fn sql_rules_classify_statements_and_tables() {
    let p = policy(
        r#"
default: allow
policies:
  - name: sql
    rules:
      - {id: no-ddl, match: {sql: {pointer: /q, classes: [ddl]}}, effect: deny}
      - {id: payroll-approval, match: {sql: {pointer: /q, tables: [payroll]}}, effect: require_approval, approval: {approvers: {groups: [hr]}}}
"#,
    );
    let sql = |q: &str| decide(&p, "POST", "/sql", None, Some(&serde_json::json!({ "q": q }).to_string()));
    assert_eq!(sql("DROP TABLE users").fact.rules, ["no-ddl"]);
    assert_eq!(sql("SELECT * FROM hr.Payroll").fact.rules, ["payroll-approval"]);
    assert_eq!(sql("SELECT * FROM users").fact.effect, Verdict::Allow);
    assert_eq!(sql("SELEKT garbage").fact.rules, ["no-ddl"], "unparsed SQL is the worst case: DDL");

    // What the statement was, for the audit record: classes and tables, never the text.
    let action = sql("DELETE FROM Orders; SELECT * FROM users").fact.action.unwrap();
    let sql_action = action.sql.unwrap();
    assert_eq!(sql_action.classes, [warden_kit::facts::SqlClass::Read, warden_kit::facts::SqlClass::Write]);
    assert_eq!(sql_action.tables, ["orders", "users"]);
    assert!(sql_action.destructive && sql_action.parsed);
    assert!(action.mcp.is_empty());
}

#[test]
fn an_mcp_batch_is_allowed_only_if_every_call_is() {
    let p = policy(
        r#"
policies:
  - name: mcp
    rules:
      - {id: read-tools, match: {mcp: {tools: ["read_*", search]}}, effect: allow}
"#,
    );
    let call = |name: &str, id: u32| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}"}}}}"#)
    };
    let both = format!("[{},{}]", call("search", 1), call("read_file", 2));
    assert_eq!(decide(&p, "POST", "/mcp", None, Some(&both)).fact.effect, Verdict::Allow);
    let mixed = format!("[{},{}]", call("search", 1), call("write_file", 2));
    assert_eq!(decide(&p, "POST", "/mcp", None, Some(&mixed)).fact.effect, Verdict::Deny);

    // The calls, for the audit record: method, tool and argument names (never their values).
    let with_args = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/etc/secret","limit":3}}}"#;
    let action = decide(&p, "POST", "/mcp", None, Some(with_args)).fact.action.unwrap();
    assert_eq!(action.mcp.len(), 1);
    assert_eq!(action.mcp[0].method, "tools/call");
    assert_eq!(action.mcp[0].tool.as_deref(), Some("read_file"));
    assert_eq!(action.mcp[0].arguments, ["limit", "path"]);
    assert!(!serde_json::to_string(&action).unwrap().contains("/etc/secret"));
}

#[test]
fn headers_phase_decides_without_the_body_when_no_body_rule_can_match() {
    let p = policy(
        r#"
default: allow
policies:
  - name: p
    rules:
      - {id: deny-admin, match: {paths: [{prefix: /admin}]}, effect: deny}
      - {id: body-rule, match: {paths: [{prefix: /export}], body: [{pointer: /all, equals: "true"}]}, effect: deny}
"#,
    );
    let h = headers("POST", "/admin/x");
    assert!(
        matches!(decide_headers(&p, &Request::new(&h, None, None, 0)), Early::Decided(d) if d.fact.effect == Verdict::Deny)
    );
    let h = headers("POST", "/export");
    assert!(matches!(decide_headers(&p, &Request::new(&h, None, None, 0)), Early::NeedBody));
    let h = headers("POST", "/upload");
    assert!(matches!(decide_headers(&p, &Request::new(&h, None, None, 0)), Early::Decided(_)));
}

/// A rule as the property test builds it: an effect and a path prefix.
fn rule_yaml(i: usize, effect: u8, prefix: &str) -> String {
    let effect = match effect % 4 {
        0 => "effect: allow".to_string(),
        1 => "effect: deny".to_string(),
        2 => "effect: require_approval, approval: {approvers: {groups: [g]}}".to_string(),
        _ => "effect: log".to_string(),
    };
    format!("      - {{id: r{i}, match: {{paths: [{{prefix: \"{prefix}\"}}]}}, {effect}}}\n")
}

proptest! {
    #[test]
    fn decisions_do_not_depend_on_rule_order(
        rules in proptest::collection::vec((0u8..4, prop::sample::select(vec!["/", "/a", "/a/b", "/b"])), 1..12),
        path in prop::sample::select(vec!["/", "/a", "/a/b/c", "/b/x", "/c"]),
        seed in any::<u64>(),
    ) {
        let yaml = |order: &[usize]| {
            let mut text = String::from("policies:\n  - name: p\n    rules:\n");
            for &i in order {
                text.push_str(&rule_yaml(i, rules[i].0, rules[i].1));
            }
            text
        };
        let forward: Vec<usize> = (0..rules.len()).collect();
        let mut shuffled = forward.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = decide(&policy(&yaml(&forward)), "GET", path, None, None);
        let b = decide(&policy(&yaml(&shuffled)), "GET", path, None, None);
        let mut rules_a = a.fact.rules.clone();
        let mut rules_b = b.fact.rules.clone();
        rules_a.sort();
        rules_b.sort();
        prop_assert_eq!(a.fact.effect, b.fact.effect);
        prop_assert_eq!(rules_a, rules_b);
        // Deny always wins: if any matching rule denies, the decision is deny.
        let any_deny = rules.iter().any(|(e, prefix)| e % 4 == 1 && path.starts_with(prefix));
        prop_assert_eq!(any_deny, a.fact.effect == Verdict::Deny && !a.fact.rules.is_empty());
    }
}

#[test]
fn office_hours_follow_the_configured_zone_and_its_summer_time() {
    let config = |zone: &str| {
        format!(
            "{zone}\npolicies:\n  - name: hours\n    rules:\n      - {{id: office-hours, match: {{time: {{days: [mon, tue, wed, thu, fri], from: '09:00', to: '17:00'}}}}, effect: allow}}\n"
        )
    };
    let at = |policy: &Policy, unix: u64| {
        let headers = headers("GET", "/");
        let request = Request::new(&headers, None, None, unix);
        match decide_headers(policy, &request) {
            Early::Decided(d) => d.fact.effect,
            Early::NeedBody => panic!("no body rule"),
        }
    };
    let berlin = policy(&config("time_zone: Europe/Berlin"));
    let utc = policy(&config(""));
    // Monday 2026-07-06 07:30 UTC is 09:30 in Berlin (summer time, UTC+2).
    assert_eq!(at(&berlin, 1_783_323_000), Verdict::Allow);
    assert_eq!(at(&utc, 1_783_323_000), Verdict::Deny);
    // Monday 2026-01-05 07:30 UTC is 08:30 in Berlin (winter time, UTC+1): not yet open.
    assert_eq!(at(&berlin, 1_767_598_200), Verdict::Deny);
}

#[test]
fn step_up_asked_by_any_matching_rule_holds_with_its_tightest_bound() {
    // The less strict rule (by approvers) asks for a recent sign-in: the requirement chosen
    // by the stricter rule carries it.
    let yaml = MIXED.replace(
        "approval: {approvers: {groups: [sre]}, min_approvals: 1, ttl_secs: 600}",
        "approval: {approvers: {groups: [sre]}, min_approvals: 1, ttl_secs: 600, max_auth_age_secs: 300}",
    );
    let p = policy(&yaml);
    let approval = decide(&p, "DELETE", "/api/prod/db", Some(&person(&[])), None).fact.approval.unwrap();
    assert_eq!((approval.approvers.min_approvals, approval.approvers.max_auth_age_secs), (2, Some(300)));
    let plain = decide(&policy(MIXED), "DELETE", "/api/prod/db", Some(&person(&[])), None).fact.approval.unwrap();
    assert_eq!(plain.approvers.max_auth_age_secs, None);
}
