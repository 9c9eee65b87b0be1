//! `warden audit replay`: re-decides a recorded request with the policy document its decision
//! names (from the bundle) and the recorded identity, and says whether the decision is the
//! same or exactly how it differs. A record keeps no header values, query values or bodies
//! (they may be secrets), so rules that read them cannot be re-checked from the record alone:
//! the replay says so instead of guessing.

use crate::audit::json_name;
use anyhow::{anyhow, Context};
use serde_json::{json, Value};
use std::path::Path;
use warden_evidence::core::bundle::{policy_version, Bundle};
use warden_kit::audit::AuditRecord;
use warden_kit::facts::{IdentityFact, SqlAction};
use warden_kit::ledger::LedgerEntry;
use warden_kit::StageKind;
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

/// Replays entry `index` of the bundle at `path`; true if the decision is the same.
pub fn replay(path: &Path, index: u64) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle: Bundle =
        serde_json::from_str(&text).with_context(|| format!("{} is not an evidence bundle", path.display()))?;
    let entry = index
        .checked_sub(bundle.from)
        .and_then(|k| bundle.entries.get(usize::try_from(k).ok()?))
        .ok_or_else(|| anyhow!("entry {index} is not in the bundle ({}..{})", bundle.from, bundle.last.size))?;
    let record = match serde_json::from_str::<LedgerEntry>(entry).context("the entry is not a ledger entry")? {
        LedgerEntry::Record(record) => record,
        LedgerEntry::ApprovalEvent(_) => return Err(anyhow!("entry {index} is an approval event, not a request")),
    };
    let recorded = record.decision.as_ref().ok_or_else(|| anyhow!("entry {index} has no policy decision to replay"))?;
    let version = recorded.policy.as_str();
    let document = bundle.policies.get(version).ok_or_else(|| {
        anyhow!("the bundle has no document for policy {version} (publish it with `warden policy publish`)")
    })?;
    if policy_version(document.as_bytes()) != version {
        return Err(anyhow!("the document given for {version} does not hash to it: run `warden audit verify`"));
    }
    let config: PolicyConfig = serde_json::from_str(document).context("the policy document")?;
    let policy =
        Policy::compile(config).map_err(|e| anyhow!("the recorded policy does not compile here: {}", e.brief()))?;

    let what = record.what.clone().unwrap_or_default();
    let (replayed, recorded_sql, body) = redecide(&record, &policy);
    let (effect, recorded_effect) = (json_name(replayed.effect), json_name(recorded.effect));
    println!("entry {index}: {} {}{} under policy {version}", what.method, what.authority, what.path);
    println!("  recorded: \"{recorded_effect}\" ({})", recorded.rules.join(","));
    println!("  replayed: \"{effect}\" ({})", replayed.rules.join(","));
    let same = replayed.effect == recorded.effect && replayed.rules == recorded.rules;
    let mut caveats = Vec::new();
    if !what.query.is_empty() {
        caveats.push("query values are not recorded (names only)");
    }
    match &recorded_sql {
        Some(sql) if sql.parsed => caveats.push(
            "SQL rules were re-checked on the recorded classification (classes, destructive, tables), the text itself is \
             not recorded; several SQL pointers in one policy were recorded as one union",
        ),
        Some(_) => caveats.push("the recorded SQL was not understood, so it was re-checked as the most restrictive reading"),
        None => {}
    }
    if !body.is_empty() {
        caveats.push("MCP argument values are not recorded (names only)");
    }
    caveats.push("header values, scopes and claims are not recorded");
    if same {
        println!("same decision");
    } else {
        println!("DIFFERENT decision; what the record does not hold may explain it:");
    }
    for caveat in caveats {
        println!("  note: {caveat}");
    }
    Ok(same)
}

/// The SQL classification a record holds (`what.action.sql`), as the policy's.
fn recorded_sql(sql: &SqlAction) -> warden_policy::sql::SqlFacts {
    warden_policy::sql::SqlFacts {
        classes: sql.classes.iter().copied().collect(),
        destructive: sql.destructive,
        tables: sql.tables.iter().cloned().collect(),
        parsed: sql.parsed,
        reasons: sql.reasons.clone(),
    }
}

/// A replayed decision, the SQL classification it used (if any) and the rebuilt body.
type Redecided = (warden_kit::facts::DecisionFact, Option<warden_policy::sql::SqlFacts>, String);

/// Re-decides `record` with `policy` as the filter would from what the record holds: method,
/// authority, path and query names, the identity, the source, the time, MCP calls rebuilt from
/// their names, and SQL rules judged on the recorded classification. Returns the decision, the
/// SQL classification used (if any) and the rebuilt body.
fn redecide(record: &AuditRecord, policy: &Policy) -> Redecided {
    let what = record.what.clone().unwrap_or_default();
    let mut path_and_query = what.path.clone();
    if !what.query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&what.query);
    }
    let headers: Vec<(String, String)> = vec![
        (":method".into(), what.method.clone()),
        (":path".into(), path_and_query),
        (":authority".into(), what.authority.clone()),
    ];
    let identity = record.who.as_ref().map(|who| IdentityFact {
        v: warden_kit::facts::VERSION,
        subject: who.subject.clone(),
        issuer: who.issuer.clone(),
        kind: who.kind,
        actors: who.actors.clone(),
        groups: who.groups.clone(),
        scopes: Vec::new(),
        method: who.method,
        expires_at: None,
        claims: Default::default(),
    });
    let source = record.from.as_ref().map(|f| f.address.clone()).unwrap_or_default();
    let now = record.time_ms / 1000;
    // MCP calls are rebuilt from their recorded names (argument values are never recorded).
    let action = what.action.clone().unwrap_or_default();
    let calls: Vec<Value> = action
        .mcp
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let arguments: serde_json::Map<String, Value> =
                c.arguments.iter().map(|n| (n.clone(), Value::Null)).collect();
            json!({"jsonrpc": "2.0", "id": i, "method": c.method, "params": {"name": c.tool, "arguments": arguments}})
        })
        .collect();
    let body = match calls.len() {
        0 => String::new(),
        1 => calls[0].to_string(),
        _ => Value::Array(calls).to_string(),
    };
    let mut request = Request::new(&headers, (!source.is_empty()).then_some(source.as_str()), identity.as_ref(), now)
        .for_policy(policy);
    // The statement is never recorded, its classification is: SQL rules are re-checked on it.
    let recorded_sql = action.sql.as_ref().map(recorded_sql);
    request.recorded_sql = recorded_sql.clone();
    (policy.decide(&request, body.as_bytes()).fact, recorded_sql, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_kit::facts::Verdict;

    #[test]
    fn a_denied_sql_statement_is_re_decided_from_its_recorded_classification() {
        let config: PolicyConfig = serde_json::from_value(json!({"policies": [{"name": "sql", "rules": [
            {"id": "agents-no-destructive-sql", "effect": "deny",
             "match": {"paths": [{"exact": "/sql"}], "identity": {"acting_kinds": ["agent"]}, "sql": {"pointer": "/query", "destructive": true}}},
            {"id": "sql-for-known-callers", "effect": "allow", "match": {"paths": [{"exact": "/sql"}], "identity": {"anonymous": false}}}
        ]}]}))
        .unwrap();
        let policy = Policy::compile(config).unwrap();
        let record = |destructive: bool| -> AuditRecord {
            serde_json::from_value(json!({"v": 1, "kind": "request", "stream": "s", "seq": 0, "prev": "", "time_ms": 1_800_000_000_000u64,
                   "who": {"subject": "alice", "issuer": "i", "kind": "human", "method": "jwt",
                           "actors": [{"subject": "agent:analyst", "kind": "agent"}]},
                   "what": {"method": "POST", "authority": "db", "path": "/sql",
                            "action": {"sql": {"classes": ["ddl"], "tables": ["customers"], "destructive": destructive, "parsed": true}}}}))
            .unwrap()
        };
        let (denied, sql, _) = redecide(&record(true), &policy);
        assert_eq!(
            (denied.effect, denied.rules.clone()),
            (Verdict::Deny, vec!["agents-no-destructive-sql".to_string()])
        );
        assert!(sql.is_some_and(|s| s.destructive && s.parsed));
        let (allowed, _, _) = redecide(&record(false), &policy);
        assert_eq!(allowed.effect, Verdict::Allow, "the recorded facts decide, not an empty body");
    }
}
