//! Bodies a rule cannot read as the upstream will (compressed, a byte order mark, not UTF-8,
//! not JSON, a repeated member, the SQL not a string, over the limit): a rule that denies or
//! needs approval counts as matched; an allow rule does not. Probes from the agent gateway's
//! bypass: an agent's DROP TABLE gzip-compressed, or behind a BOM, reached a lenient upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use warden_kit::facts::{Actor, IdentityFact, SubjectKind, Verdict};
use warden_kit::StageKind;
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

const GATEWAY: &str = r#"
policies:
  - name: gateway
    rules:
      - id: agents-no-destructive-sql
        match: {methods: [POST], paths: [{exact: /sql}], identity: {acting_kinds: [agent]}, sql: {pointer: /query, destructive: true}}
        effect: deny
      - id: destructive-tools-need-approval
        match: {methods: [POST], paths: [{exact: /mcp}], mcp: {tools: ["delete_*"]}}
        effect: require_approval
        approval: {approvers: {groups: [dba]}}
      - id: no-raw-sql-drop
        match: {methods: [POST], paths: [{exact: /raw}], sql: {destructive: true}}
        effect: deny
      - id: refunds-small-only
        match: {methods: [POST], paths: [{exact: /refund}], identity: {anonymous: false}, body: [{pointer: /amount, equals: "1"}]}
        effect: allow
      - id: known-callers
        match: {methods: [POST], paths: [{exact: /sql}, {exact: /mcp}, {exact: /raw}], identity: {anonymous: false}}
        effect: allow
"#;

fn policy() -> Policy {
    let config: PolicyConfig = serde_yaml_ng::from_str(GATEWAY).unwrap();
    Policy::compile(config).unwrap()
}

fn agent() -> IdentityFact {
    IdentityFact {
        v: 1,
        subject: "alice".into(),
        issuer: "https://idp".into(),
        kind: SubjectKind::Human,
        actors: vec![Actor { subject: "agent:coder".into(), kind: SubjectKind::Agent }],
        groups: vec![],
        scopes: vec![],
        method: warden_kit::facts::IdentityMethod::Jwt,
        expires_at: None,
        claims: Default::default(),
    }
}

fn decide(path: &str, extra: &[(&str, &str)], body: &[u8]) -> (Verdict, Vec<String>, Vec<String>) {
    let mut headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), "api.example.com".to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let identity = agent();
    let request = Request::new(&headers, None, Some(&identity), 1_767_609_000);
    let decision = policy().decide(&request, body);
    (decision.fact.effect, decision.fact.rules, decision.fact.reasons)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) deflate block inside a gzip member: what matters is the header.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    out.write_all(&(bytes.len() as u16).to_le_bytes()).unwrap();
    out.write_all(&(!(bytes.len() as u16)).to_le_bytes()).unwrap();
    out.write_all(bytes).unwrap();
    out
}

/// A probe: its name, extra request headers and the body.
type Probe = (&'static str, Vec<(&'static str, &'static str)>, Vec<u8>);

#[test]
fn a_deny_rule_that_cannot_read_the_sql_counts_as_matched() {
    let drop = br#"{"query": "DROP TABLE customers"}"#;
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(drop);
    let cases: Vec<Probe> = vec![
        ("gzip", vec![("content-encoding", "gzip")], gzip(drop)),
        ("gzip, plain bytes", vec![("content-encoding", "gzip")], drop.to_vec()),
        ("br", vec![("content-encoding", "br")], drop.to_vec()),
        ("identity, gzip", vec![("content-encoding", "identity, gzip")], drop.to_vec()),
        ("identity, then gzip", vec![("content-encoding", "identity"), ("content-encoding", "gzip")], drop.to_vec()),
        ("byte order mark", vec![], bom),
        ("not UTF-8", vec![], b"{\"query\": \"DROP TABLE customers \xff\"}".to_vec()),
        ("repeated member", vec![], br#"{"query": "SELECT 1", "query": "DROP TABLE customers"}"#.to_vec()),
        (
            "repeated member, escaped",
            vec![],
            br#"{"query": "DROP TABLE customers", "\u0071uery": "SELECT 1"}"#.to_vec(),
        ),
        ("trailing bytes", vec![], br#"{"query": "SELECT 1"} {"query": "DROP TABLE customers"}"#.to_vec()),
        ("not JSON", vec![], b"query=DROP+TABLE+customers".to_vec()),
        ("SQL in an array", vec![], br#"{"query": ["DROP TABLE customers"]}"#.to_vec()),
    ];
    for (name, headers, body) in cases {
        let (effect, rules, reasons) = decide("/sql", &headers, &body);
        assert_eq!(
            (effect, rules.as_slice()),
            (Verdict::Deny, &["agents-no-destructive-sql".to_string()][..]),
            "{name}"
        );
        assert!(reasons.iter().any(|r| r.contains("request body unreadable")), "{name}: {reasons:?}");
    }
    // Readable bodies are decided on what they say.
    assert_eq!(decide("/sql", &[], br#"{"query": "SELECT 1"}"#).0, Verdict::Allow);
    assert_eq!(decide("/sql", &[("content-encoding", "identity")], br#"{"query": "SELECT 1"}"#).0, Verdict::Allow);
    assert_eq!(decide("/sql", &[], b"").0, Verdict::Allow, "an empty body holds nothing to refuse");
}

#[test]
fn approval_and_whole_body_rules_fail_closed_too_and_allow_rules_do_not_match() {
    let call = br#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "delete_customer", "arguments": {}}}"#;
    let (effect, rules, _) = decide("/mcp", &[("content-encoding", "gzip")], &gzip(call));
    assert_eq!((effect, rules), (Verdict::RequireApproval, vec!["destructive-tools-need-approval".to_string()]));
    let dup = br#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read", "name": "delete_customer"}}"#;
    assert_eq!(decide("/mcp", &[], dup).0, Verdict::RequireApproval);
    let (effect, rules, _) = decide("/raw", &[("content-encoding", "deflate")], b"DROP TABLE t");
    assert_eq!((effect, rules), (Verdict::Deny, vec!["no-raw-sql-drop".to_string()]));
    // An allow rule that reads the body does not match what it cannot read: default deny.
    let (effect, rules, _) = decide("/refund", &[("content-encoding", "gzip")], &gzip(br#"{"amount": "1"}"#));
    assert_eq!((effect, rules), (Verdict::Deny, vec![]));
    assert_eq!(decide("/refund", &[], br#"{"amount": "1", "amount": "900"}"#).0, Verdict::Deny);
    assert_eq!(decide("/refund", &[], br#"{"amount": "1"}"#).0, Verdict::Allow);
}

#[test]
fn a_body_over_the_limit_is_unreadable() {
    let headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), "/sql".to_string()),
        (":authority".to_string(), "api.example.com".to_string()),
    ];
    let identity = agent();
    let mut request = Request::new(&headers, None, Some(&identity), 1_767_609_000);
    request.body_too_large = true;
    let decision = warden_policy::decide::decide_body(&policy(), &request, b"");
    assert_eq!(decision.fact.effect, Verdict::Deny);
    assert!(decision.fact.reasons.iter().any(|r| r.contains("larger than max_body_bytes")), "{decision:?}");
}
