//! The direct writer (what the stage uses on every request) writes exactly the bytes of the
//! general path (typed record sealed through RFC 8785's writer), or declines so the general
//! path runs: for every mix of facts an auditor's records come from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_audit::{build, write, Observed, Position, Stream};
use warden_kit::audit::{AuditRecord, RecordKind};
use warden_kit::facts;
use warden_kit::Facts;

fn observed(path: &str) -> Observed {
    Observed {
        time_ms: 1_795_000_000_000,
        method: "POST".into(),
        authority: "api.example.com".into(),
        path: path.into(),
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        source: "10.0.0.7:5555".into(),
        status: 503,
        details: "upstream_reset_before_response_started{connection_termination}".into(),
        flags: 0x40,
        request_bytes: 1234,
        response_bytes: 56,
        duration_us: 1500,
    }
}

fn identity() -> Value {
    json!({"v": 1, "subject": "alice@example.com", "issuer": "https://idp", "kind": "human",
           "actors": [{"subject": "agent:code-assistant", "kind": "agent"}], "groups": ["dba", "ops"],
           "scopes": ["read"], "method": "jwt", "expires_at": 1795000000u64,
           "claims": {"email": "alice@example.com", "tenant": "é😀"}})
}

fn decision() -> Value {
    json!({"v": 1, "effect": "require_approval", "rules": ["destructive-sql"], "reasons": ["destructive-sql: needs a DBA"],
           "policy": "sha256:ab", "mask": [], "approval": null,
           "dry_run": [{"rule": "new-rule", "effect": "deny"}], "logged": ["audit-all"],
           "action": {"mcp": [{"method": "tools/call", "tool": "run_sql", "arguments": ["db", "query"]}, {"method": "ping"}],
                      "sql": {"classes": ["write"], "tables": ["orders"], "destructive": true, "parsed": true}}})
}

fn approval() -> Value {
    json!({"v": 1, "status": "approved", "approval_id": "apr_1", "approver": "bob@example.com", "decided_at": 1795000000u64,
           "mode": "hold", "digest": format!("sha256:{}", "0".repeat(64)), "forced": false,
           "receipt": {"receipt": {"v": 1, "approval_id": "apr_1", "digest": format!("sha256:{}", "0".repeat(64)),
                                   "requester": {"subject": "alice@example.com", "issuer": "https://idp"},
                                   "decision": "approved",
                                   "deciders": [{"subject": "bob@example.com", "issuer": "https://idp", "decision": "approve", "forced": false}],
                                   "forced": false, "decided_at": 1795000000u64, "expires_at": 1795000300u64},
                       "key_id": "0123456789abcdef", "signature": "c2ln"}})
}

fn masking(kind: &str) -> Value {
    json!({"v": 1, "response": {"profiles": ["pii"], "counts": {kind: 3, "email": 1}, "paths": ["$.a"], "format": "json"}})
}

/// Every combination of facts present (with odd strings in them).
fn fact_sets() -> Vec<Facts> {
    let mut sets = Vec::new();
    for mask in 0..16u32 {
        let mut facts = Facts::default();
        if mask & 1 != 0 {
            facts.import(facts::REQUEST_ID.name(), json!("req-\"1\"\n\u{7f}"));
            facts.import(facts::IDENTITY.name(), identity());
        }
        if mask & 2 != 0 {
            facts.import(facts::DECISION.name(), decision());
        }
        if mask & 4 != 0 {
            facts.import(facts::APPROVAL.name(), approval());
        }
        if mask & 8 != 0 {
            facts.import(facts::MASKING.name(), masking("payment_card"));
        }
        sets.push(facts);
    }
    let mut mtls = Facts::default();
    mtls.import(
        facts::IDENTITY.name(),
        json!({"v": 1, "subject": "spiffe://example.org/ns/a/sa/b", "issuer": "example.org", "kind": "service", "method": "mtls"}),
    );
    sets.push(mtls);
    let mut minimal_decision = Facts::default();
    minimal_decision
        .import(facts::DECISION.name(), json!({"v": 1, "effect": "allow", "rules": [], "reasons": [], "policy": ""}));
    sets.push(minimal_decision);
    sets
}

fn general(facts: &Facts, observed: &Observed, kind: RecordKind, with_outcome: bool, stream: &mut Stream) -> Vec<u8> {
    let mut record = build(facts, observed, false);
    record.kind = kind;
    if !with_outcome {
        record.outcome = None;
    }
    stream.seal(&mut record).unwrap()
}

#[test]
fn the_writer_writes_the_general_paths_bytes_for_every_mix_of_facts() {
    let paths = ["/orders/1?token=abc&x", "/", "/café?ü=1", ""];
    let mut checked = 0;
    for facts in fact_sets() {
        for path in paths {
            for (kind, with_outcome) in [(RecordKind::Request, true), (RecordKind::Intent, false)] {
                let mut observed = observed(path);
                if path.is_empty() {
                    observed = Observed { time_ms: 5, ..Observed::default() };
                }
                let mut reference = Stream::new(b"seed");
                let mut direct = Stream::new(b"seed");
                for _ in 0..2 {
                    let expected = general(&facts, &observed, kind, with_outcome, &mut reference);
                    let written = direct
                        .seal_written(
                            |at| write(&facts, &observed, false, kind, with_outcome, at),
                            || panic!("the writer declined a plain record"),
                        )
                        .unwrap();
                    assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(expected.clone()).unwrap());
                    let parsed: AuditRecord = serde_json::from_slice(&expected).unwrap();
                    assert_eq!(parsed.kind, kind);
                    // Every fact present made it into the record (none was dropped by both).
                    assert_eq!(parsed.who.is_some(), facts.raw(facts::IDENTITY.name()).is_some());
                    assert_eq!(parsed.decision.is_some(), facts.raw(facts::DECISION.name()).is_some());
                    assert_eq!(parsed.approval.is_some(), facts.raw(facts::APPROVAL.name()).is_some());
                    assert_eq!(parsed.masking.is_some(), facts.raw(facts::MASKING.name()).is_some());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 18 * 4 * 2 * 2, "{checked}");
}

#[test]
fn the_writer_declines_what_needs_the_general_writer_and_the_stream_falls_back() {
    let at = Position { stream: "s", seq: 0, prev: "" };
    // A masking type whose UTF-16 order differs from its UTF-8 order.
    let mut facts = Facts::default();
    facts.import(facts::MASKING.name(), masking("\u{ff61}x"));
    facts.import(facts::IDENTITY.name(), identity());
    assert!(write(&facts, &observed("/"), false, RecordKind::Request, true, at).is_none());
    // An integer beyond 2^53.
    let huge = Observed { response_bytes: u64::MAX, ..observed("/") };
    assert!(write(&Facts::default(), &huge, false, RecordKind::Request, true, at).is_none());

    for (facts, observed) in [(facts, observed("/")), (Facts::default(), huge)] {
        let mut reference = Stream::new(b"seed");
        let mut fallback = Stream::new(b"seed");
        let expected = general(&facts, &observed, RecordKind::Request, true, &mut reference);
        let written = fallback
            .seal_written(
                |at| write(&facts, &observed, false, RecordKind::Request, true, at),
                || build(&facts, &observed, false),
            )
            .unwrap();
        assert_eq!(written, expected);
    }
}

#[test]
fn malformed_facts_are_left_out_as_the_general_path_leaves_them_out() {
    let mut facts = Facts::default();
    facts.import(facts::IDENTITY.name(), json!({"subject": 7}));
    facts.import(facts::DECISION.name(), json!({"v": 1, "effect": "maybe"}));
    let mut reference = Stream::new(b"seed");
    let mut direct = Stream::new(b"seed");
    let expected = general(&facts, &observed("/"), RecordKind::Request, true, &mut reference);
    let written = direct
        .seal_written(|at| write(&facts, &observed("/"), false, RecordKind::Request, true, at), || panic!("declined"))
        .unwrap();
    assert_eq!(written, expected);
    let record: AuditRecord = serde_json::from_slice(&written).unwrap();
    assert!(record.who.is_none() && record.decision.is_none());
}
