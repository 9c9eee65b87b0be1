//! Records as an auditor relies on them: built from the facts, canonical (the stored bytes are
//! the hashed bytes and parse back to the same record), chained per stream, and free of
//! secrets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_audit::{build, Observed, Stream};
use warden_kit::audit::{chain_hash, AuditRecord, RecordKind};
use warden_kit::facts::{self, MaskingFact, MaskingReport};
use warden_kit::Facts;

fn observed(path: &str) -> Observed {
    Observed {
        time_ms: 1_795_000_000_000,
        method: "POST".into(),
        authority: "api.example.com".into(),
        path: path.into(),
        source: "10.0.0.7:5555".into(),
        status: 200,
        details: "via_upstream".into(),
        duration_us: 1500,
        ..Observed::default()
    }
}

fn facts() -> Facts {
    let mut facts = Facts::default();
    facts.import(facts::REQUEST_ID.name(), json!("req-1"));
    facts.import(
        facts::IDENTITY.name(),
        json!({"v": 1, "subject": "alice@example.com", "issuer": "https://idp", "kind": "human",
               "actors": [{"subject": "agent:code-assistant", "kind": "agent"}], "groups": ["dba"], "method": "jwt",
               "claims": {"email": "alice@example.com"}}),
    );
    facts.import(
        facts::DECISION.name(),
        json!({"v": 1, "effect": "allow", "rules": ["mcp-reads"], "reasons": ["mcp-reads: allowed"], "policy": "sha256:ab",
               "action": {"mcp": [{"method": "tools/call", "tool": "search", "arguments": ["query"]}]}}),
    );
    let mut counts = std::collections::BTreeMap::new();
    counts.insert("email".to_string(), 3);
    facts.write(
        facts::MASKING,
        &MaskingFact {
            v: 1,
            request: None,
            response: Some(MaskingReport {
                counts,
                format: Some(warden_kit::facts::BodyFormat::Json),
                ..Default::default()
            }),
        },
    );
    facts
}

#[test]
fn a_record_says_who_did_what_and_what_was_decided_and_hidden() {
    let record = build(&facts(), &observed("/mcp?session=abc123&x=1"), false);
    let who = record.who.as_ref().unwrap();
    assert_eq!(who.subject, "alice@example.com");
    assert_eq!(who.actors[0].subject, "agent:code-assistant");
    let what = record.what.as_ref().unwrap();
    assert_eq!((what.path.as_str(), what.query.as_str()), ("/mcp", "session&x"));
    assert_eq!(what.action.as_ref().unwrap().mcp[0].tool.as_deref(), Some("search"));
    assert_eq!(record.decision.as_ref().unwrap().rules, ["mcp-reads"]);
    assert_eq!(record.masking.as_ref().unwrap().response.as_ref().unwrap().counts["email"], 3);
    assert_eq!(record.request_id, "req-1");
    let text = String::from_utf8(record.canonical().unwrap()).unwrap();
    assert!(!text.contains("abc123"), "query values are dropped: {text}");
    assert!(!text.contains("claims"), "identity claims are not recorded: {text}");

    let kept = build(&facts(), &observed("/mcp?session=abc123"), true);
    assert_eq!(kept.what.unwrap().query, "session=abc123");
}

#[test]
fn sealed_records_are_canonical_and_chained() {
    let mut stream = Stream::new(b"node-1\n42\n1795000000000000000");
    assert_eq!(stream.id().len(), 32);
    let mut sealed = Vec::new();
    for path in ["/a", "/b", "/c"] {
        let mut record = build(&facts(), &observed(path), false);
        sealed.push(stream.seal(&mut record).unwrap());
    }
    sealed.push(stream.gap(5, 1_795_000_000_500).unwrap());
    let records: Vec<AuditRecord> = sealed.iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
    for (i, (record, bytes)) in records.iter().zip(&sealed).enumerate() {
        assert_eq!(record.seq, i as u64);
        assert_eq!(record.stream, stream.id());
        assert_eq!(&record.canonical().unwrap(), bytes, "stored bytes are the canonical bytes");
        let expected_prev = if i == 0 { String::new() } else { chain_hash(&sealed[i - 1]) };
        assert_eq!(record.prev, expected_prev);
    }
    assert_eq!(records[3].kind, RecordKind::Gap);
    assert_eq!(records[3].gap.as_ref().unwrap().dropped, 5);
    // Another VM's stream has another id.
    assert_ne!(Stream::new(b"node-1\n43\n1795000000000000000").id(), stream.id());
}

#[test]
fn records_with_unknown_fields_are_not_records() {
    let mut stream = Stream::new(b"x");
    let bytes = stream.seal(&mut build(&facts(), &observed("/a"), false)).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["extra"] = json!(1);
    assert!(serde_json::from_value::<AuditRecord>(value).is_err());
}

#[test]
fn a_refusal_is_recorded_as_one_whatever_status_carried_it() {
    let with = |decision: serde_json::Value, approval: Option<serde_json::Value>| {
        let mut facts = Facts::default();
        facts.import(facts::DECISION.name(), decision);
        if let Some(approval) = approval {
            facts.import(facts::APPROVAL.name(), approval);
        }
        // An MCP refusal is a JSON-RPC error answered 200.
        build(&facts, &observed("/mcp"), false).refused.map(|r| (r.by, r.code))
    };
    let needs_approval =
        json!({"v": 1, "effect": "require_approval", "rules": ["r"], "reasons": [], "policy": "sha256:ab"});
    let approval = |status: &str, code: Option<&str>| {
        Some(json!({"v": 1, "status": status, "approval_id": "apr_1", "digest": "sha256:00", "code": code}))
    };
    let pair = |by: &str, code: &str| Some((by.to_string(), code.to_string()));
    assert_eq!(with(needs_approval.clone(), approval("denied", None)), pair("approval", "approval_denied"));
    assert_eq!(with(needs_approval.clone(), approval("error", None)), pair("approval", "approval_unavailable"));
    assert_eq!(
        with(needs_approval.clone(), approval("refused", Some("approval_used"))),
        pair("approval", "approval_used")
    );
    assert_eq!(with(needs_approval.clone(), None), pair("approval", "approval_unavailable"));
    assert_eq!(with(needs_approval.clone(), approval("approved", None)), None);
    assert_eq!(with(needs_approval, approval("pending", None)), None, "deferred: the caller comes back");
    assert_eq!(
        with(json!({"v": 1, "effect": "deny", "rules": ["no"], "reasons": [], "policy": "sha256:ab"}), None),
        pair("policy", "denied_by_policy")
    );
    assert_eq!(with(json!({"v": 1, "effect": "allow", "rules": [], "reasons": [], "policy": "sha256:ab"}), None), None);
    // And it survives the canonical round trip the ledger does.
    let mut facts = Facts::default();
    facts.import(
        facts::DECISION.name(),
        json!({"v": 1, "effect": "deny", "rules": ["no"], "reasons": [], "policy": "sha256:ab"}),
    );
    let mut record = build(&facts, &observed("/mcp"), false);
    let bytes = Stream::new(b"r").seal(&mut record).unwrap();
    let back: AuditRecord = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back.refused.unwrap().code, "denied_by_policy");
}
