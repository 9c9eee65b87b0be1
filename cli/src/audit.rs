//! `warden audit`: evidence for auditors. `export` fetches a bundle from the ledger (as a
//! person in the auditors' group); `verify` checks a bundle offline against the log key the
//! auditor trusts; `show` prints its records as a readable timeline and `search` the ones
//! matching a query.

use anyhow::{anyhow, Context};
use serde_json::Value;
use std::path::Path;
use warden_evidence::core::bundle::{verify as verify_bundle, Bundle, Trust};
use warden_evidence::core::checkpoint::LogVerifier;
use warden_evidence::core::cosign::WitnessVerifier;
use warden_kit::audit::RecordKind;
use warden_kit::ledger::LedgerEntry;

/// Fetches `GET /v1/log/export` into `out`.
pub fn export(url: &str, token: &str, from: u64, to: Option<u64>, sample: u64, out: &Path) -> anyhow::Result<bool> {
    let agent = warden_service_shared::http_client::agent(None);
    let mut query = format!("from={from}&sample={sample}");
    if let Some(to) = to {
        query.push_str(&format!("&to={to}"));
    }
    let target = format!("{}/v1/log/export?{query}", url.trim_end_matches('/'));
    let response = agent
        .get(&target)
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .with_context(|| format!("cannot reach the evidence ledger at {url}"))?;
    let status = response.status().as_u16();
    let text = response.into_body().with_config().limit(1 << 30).read_to_string().context("reading the bundle")?;
    if status != 200 {
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return Err(anyhow!(
            "{status} {}: {}",
            value["error"]["code"].as_str().unwrap_or("error"),
            value["error"]["message"].as_str().unwrap_or("")
        ));
    }
    let bundle: Bundle = serde_json::from_str(&text).context("the ledger's answer is not a bundle")?;
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "exported entries {}..{} of {} to {} ({} sampled proofs)",
        bundle.from,
        bundle.last.size,
        bundle.origin,
        out.display(),
        bundle.proofs.len()
    );
    Ok(true)
}

fn read(path: &Path) -> anyhow::Result<Bundle> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not an evidence bundle", path.display()))
}

/// Reads and verifies a bundle offline against the keys the auditor trusts.
fn checked(
    path: &Path,
    log_key: &str,
    witness_keys: &[String],
    witnesses: usize,
) -> anyhow::Result<(Bundle, warden_evidence::core::bundle::Report)> {
    let bundle = read(path)?;
    let log = LogVerifier::new(log_key).map_err(|e| anyhow!("--log-key: {e}"))?;
    let witness_verifiers = witness_keys
        .iter()
        .map(|k| WitnessVerifier::new(k).map_err(|e| anyhow!("--witness-key {k}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let trust = Trust { log, witnesses: witness_verifiers, required_witnesses: witnesses };
    let report = verify_bundle(&bundle, &trust);
    Ok((bundle, report))
}

/// Writes the Markdown report of a verified bundle for `framework` to `out` (or stdout);
/// true only if the bundle verified.
pub fn report(
    path: &Path,
    log_key: &str,
    witness_keys: &[String],
    witnesses: usize,
    framework: &str,
    out: Option<&Path>,
) -> anyhow::Result<bool> {
    let (bundle, report) = checked(path, log_key, witness_keys, witnesses)?;
    let text = crate::audit_report::render(&bundle, &report, framework)
        .ok_or_else(|| anyhow!("--framework: soc2 or nist-800-53"))?;
    match out {
        Some(out) => std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?,
        None => print!("{text}"),
    }
    Ok(report.ok())
}

/// Verifies a bundle offline; true only if everything holds.
pub fn verify(path: &Path, log_key: &str, witness_keys: &[String], witnesses: usize) -> anyhow::Result<bool> {
    let (bundle, report) = checked(path, log_key, witness_keys, witnesses)?;
    println!("log {} entries {}..{}", bundle.origin, report.from, report.to);
    println!(
        "  {} entries: {} requests, {} gap records, {} approval events; {} streams; {} inclusion proofs checked",
        report.entries,
        report.requests,
        report.gaps,
        report.approval_events,
        report.streams.len(),
        report.proofs
    );
    if !report.witnesses.is_empty() {
        println!("  cosigned by {}", report.witnesses.join(", "));
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
    for failure in &report.failures {
        println!("  FAIL {failure}");
    }
    println!("{}", if report.ok() { "verified" } else { "NOT verified" });
    Ok(report.ok())
}

/// Prints the bundle's records as a timeline.
pub fn show(path: &Path) -> anyhow::Result<bool> {
    search(path, &crate::audit_search::Query::default())
}

/// Prints the bundle's entries matching `query` as a timeline; true if any matched.
pub fn search(path: &Path, query: &crate::audit_search::Query) -> anyhow::Result<bool> {
    let bundle = read(path)?;
    let mut matched = 0usize;
    for (offset, entry) in bundle.entries.iter().enumerate() {
        let index = bundle.from + offset as u64;
        let value: Value = serde_json::from_str(entry).unwrap_or(Value::Null);
        if query.matches(&value) {
            matched += 1;
            let time = crate::audit_search::time_ms(&value).map(format_time).unwrap_or_default();
            println!("{index:>6}  {time:<20}  {}", describe_text(entry));
        }
    }
    if matched == 0 {
        println!("no entry matches");
    }
    Ok(matched > 0)
}

/// `2026-11-26 10:42:07Z` (UTC, seconds).
fn format_time(ms: u64) -> String {
    i64::try_from(ms / 1000)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// One line for an entry: who, what, decision, approval, masking, outcome.
pub fn describe(entry: &LedgerEntry) -> String {
    let record = match entry {
        LedgerEntry::ApprovalEvent(e) => {
            let mut text = format!("approval {} {} by {}", e.approval_id, e.event.as_str(), e.actor);
            if let Some(channel) = e.detail["channel"].as_str() {
                text.push_str(&format!(" ({channel})"));
            }
            return text;
        }
        LedgerEntry::Record(record) => record,
    };
    if record.kind == RecordKind::Gap {
        let dropped = record.gap.as_ref().map_or(0, |g| g.dropped);
        return format!("stream {}: {dropped} records dropped by the proxy", record.stream);
    }
    let mut text = match &record.who {
        None => "anonymous".to_string(),
        Some(who) if who.actors.is_empty() => who.subject.clone(),
        Some(who) => {
            let actors: Vec<&str> = who.actors.iter().map(|a| a.subject.as_str()).collect();
            format!("{} acting for {}", actors.join(" via "), who.subject)
        }
    };
    if let Some(what) = &record.what {
        text.push_str(&format!(" {} {}{}", what.method, what.authority, what.path));
        let action = what.action.as_ref();
        for call in action.map(|a| a.mcp.as_slice()).unwrap_or_default() {
            text.push_str(&format!(" [{} {}]", call.method, call.tool.as_deref().unwrap_or("")));
        }
        if let Some(sql) = action.and_then(|a| a.sql.as_ref()) {
            text.push_str(&format!(
                " [sql {} on {}]",
                warden_kit::facts::SqlClass::join(&sql.classes, ","),
                sql.tables.join(",")
            ));
        }
    }
    if let Some(decision) = &record.decision {
        let effect = json_name(decision.effect);
        text.push_str(&format!("; {effect} ({})", decision.rules.join(",")));
    }
    if let Some(approval) = &record.approval {
        let status = json_name(approval.status);
        text.push_str(&format!("; approval {} {status}", approval.approval_id));
        if let Some(by) = &approval.approver {
            text.push_str(&format!(" by {by}"));
        }
        if let Some(at) = approval.decided_at {
            text.push_str(&format!(" at {}", format_time(at.saturating_mul(1000))));
        }
        if approval.forced {
            text.push_str(" (FORCED, break-glass)");
        }
    }
    if let Some(masking) = &record.masking {
        for (direction, report) in [("request", &masking.request), ("response", &masking.response)] {
            let found: Vec<String> = report
                .iter()
                .flat_map(|r| r.counts.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            if !found.is_empty() {
                text.push_str(&format!("; masked in the {direction}: {}", found.join(", ")));
            }
        }
    }
    if let Some(refused) = &record.refused {
        text.push_str(&format!("; REFUSED by {} ({})", refused.by, refused.code));
    }
    match &record.outcome {
        Some(outcome) => text.push_str(&format!("; {}", outcome.status)),
        None => text.push_str("; null"),
    }
    text
}

/// The name a unit enum of the records is written as (`require_approval`, `human`); empty
/// for anything that is not written as a string.
pub(crate) fn json_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// [`describe`] for an entry's text; an entry that is not a ledger entry says so.
pub fn describe_text(text: &str) -> String {
    match serde_json::from_str::<LedgerEntry>(text) {
        Ok(entry) => describe(&entry),
        Err(_) => "(not a ledger entry this version reads)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_text;
    use serde_json::json;

    #[test]
    fn a_sql_request_reads_as_its_classes_and_tables() {
        let entry = json!({"v": 1, "kind": "request", "stream": "s", "seq": 0, "prev": "", "time_ms": 1,
            "who": {"subject": "alice", "issuer": "i", "kind": "human", "method": "jwt",
                    "actors": [{"subject": "agent:assistant", "kind": "agent"}]},
            "what": {"method": "POST", "authority": "db", "path": "/sql",
                     "action": {"sql": {"classes": ["ddl"], "tables": ["customers", "orders"], "destructive": true, "parsed": true}}},
            "decision": {"effect": "deny", "rules": ["agents-no-destructive-sql"], "reasons": [], "policy": "p"},
            "outcome": {"status": 403, "duration_us": 1}});
        assert_eq!(
            describe_text(&entry.to_string()),
            "agent:assistant acting for alice POST db/sql [sql ddl on customers,orders]; \
             deny (agents-no-destructive-sql); 403"
        );
    }
}
