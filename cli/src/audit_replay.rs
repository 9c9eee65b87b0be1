//! `warden audit replay`: re-decides a recorded request with the policy document its decision
//! names (from the bundle) and the recorded identity, and says whether the decision is the
//! same or exactly how it differs. A record keeps no header values, query values or bodies
//! (they may be secrets), so rules that read them cannot be re-checked from the record alone:
//! the replay says so instead of guessing.

use anyhow::{anyhow, Context};
use serde_json::{json, Value};
use std::path::Path;
use warden_evidence::core::bundle::{policy_version, Bundle};
use warden_kit::facts::{Actor, IdentityFact};
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
    let record: Value = serde_json::from_str(entry).context("the entry is not JSON")?;
    let recorded = &record["decision"];
    let version =
        recorded["policy"].as_str().ok_or_else(|| anyhow!("entry {index} has no policy decision to replay"))?;
    let document = bundle.policies.get(version).ok_or_else(|| {
        anyhow!("the bundle has no document for policy {version} (publish it with `warden policy publish`)")
    })?;
    if policy_version(document.as_bytes()) != version {
        return Err(anyhow!("the document given for {version} does not hash to it: run `warden audit verify`"));
    }
    let config: PolicyConfig = serde_json::from_str(document).context("the policy document")?;
    let policy = Policy::compile(config)
        .map_err(|e| anyhow!("the recorded policy does not compile here: {}: {}", e.field, e.message))?;

    let what = &record["what"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let query = s(&what["query"]);
    let (replayed, recorded_sql, body) = redecide(&record, &policy);

    let effect = serde_json::to_value(replayed.effect)?;
    let rules: Vec<Value> = replayed.rules.iter().map(|r| json!(r)).collect();
    let recorded_rules = recorded["rules"].as_array().cloned().unwrap_or_default();
    println!(
        "entry {index}: {} {}{} under policy {version}",
        s(&what["method"]),
        s(&what["authority"]),
        s(&what["path"])
    );
    println!("  recorded: {} ({})", recorded["effect"], join(&recorded_rules));
    println!("  replayed: {effect} ({})", join(&rules));
    let same = effect == recorded["effect"] && rules == recorded_rules;
    let mut caveats = Vec::new();
    if !query.is_empty() {
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

/// The SQL classification a record holds (`what.action.sql`), if any.
fn recorded_sql(sql: &Value) -> Option<warden_policy::sql::SqlFacts> {
    let sql = sql.as_object()?;
    let strings = |key: &str| -> Vec<String> {
        sql.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    Some(warden_policy::sql::SqlFacts {
        classes: strings("classes").into_iter().filter_map(|c| serde_json::from_value(Value::String(c)).ok()).collect(),
        destructive: sql.get("destructive").and_then(Value::as_bool).unwrap_or(false),
        tables: strings("tables").into_iter().collect(),
        parsed: sql.get("parsed").and_then(Value::as_bool).unwrap_or(false),
        reasons: strings("reasons"),
    })
}

/// A replayed decision, the SQL classification it used (if any) and the rebuilt body.
type Redecided = (warden_kit::facts::DecisionFact, Option<warden_policy::sql::SqlFacts>, String);

/// Re-decides `record` with `policy` as the filter would from what the record holds: method,
/// authority, path and query names, the identity, the source, the time, MCP calls rebuilt from
/// their names, and SQL rules judged on the recorded classification. Returns the decision, the
/// SQL classification used (if any) and the rebuilt body.
fn redecide(record: &Value, policy: &Policy) -> Redecided {
    let what = &record["what"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut path_and_query = s(&what["path"]);
    let query = s(&what["query"]);
    if !query.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&query);
    }
    let headers: Vec<(String, String)> = vec![
        (":method".into(), s(&what["method"])),
        (":path".into(), path_and_query),
        (":authority".into(), s(&what["authority"])),
    ];
    let who = &record["who"];
    let identity = (!who.is_null()).then(|| IdentityFact {
        v: 1,
        subject: s(&who["subject"]),
        issuer: s(&who["issuer"]),
        kind: serde_json::from_value(who["kind"].clone()).unwrap_or(warden_kit::facts::SubjectKind::Human),
        actors: serde_json::from_value::<Vec<Actor>>(who["actors"].clone()).unwrap_or_default(),
        groups: serde_json::from_value(who["groups"].clone()).unwrap_or_default(),
        scopes: Vec::new(),
        method: s(&who["method"]),
        expires_at: None,
        claims: Default::default(),
    });
    let source = s(&record["from"]["address"]);
    let now = record["time_ms"].as_u64().unwrap_or(0) / 1000;
    // MCP calls are rebuilt from their recorded names (argument values are never recorded).
    let body = match what["action"]["mcp"].as_array() {
        Some(calls) if !calls.is_empty() => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let arguments: serde_json::Map<String, Value> = c["arguments"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|n| n.as_str()).map(|n| (n.to_string(), Value::Null)).collect())
                        .unwrap_or_default();
                    json!({"jsonrpc": "2.0", "id": i, "method": c["method"], "params": {"name": c["tool"], "arguments": arguments}})
                })
                .collect();
            if calls.len() == 1 {
                calls[0].to_string()
            } else {
                Value::Array(calls).to_string()
            }
        }
        _ => String::new(),
    };
    let mut request = Request::new(&headers, (!source.is_empty()).then_some(source.as_str()), identity.as_ref(), now)
        .for_policy(policy);
    // The statement is never recorded, its classification is: SQL rules are re-checked on it.
    let recorded_sql = recorded_sql(&what["action"]["sql"]);
    request.recorded_sql = recorded_sql.clone();
    (policy.decide(&request, body.as_bytes()).fact, recorded_sql, body)
}

fn join(rules: &[Value]) -> String {
    rules.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
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
        let record = |destructive: bool| {
            json!({"kind": "request", "time_ms": 1_800_000_000_000u64,
                   "who": {"subject": "alice", "issuer": "i", "kind": "human", "method": "jwt",
                           "actors": [{"subject": "agent:analyst", "kind": "agent"}]},
                   "what": {"method": "POST", "authority": "db", "path": "/sql",
                            "action": {"sql": {"classes": ["ddl"], "tables": ["customers"], "destructive": destructive, "parsed": true}}}})
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
