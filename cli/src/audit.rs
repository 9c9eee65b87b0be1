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

/// Fetches `GET /v1/log/export` into `out`.
pub fn export(url: &str, token: &str, from: u64, to: Option<u64>, sample: u64, out: &Path) -> anyhow::Result<bool> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
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
            println!("{index:>6}  {time:<20}  {}", describe(&value));
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
pub fn describe(entry: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    match entry["kind"].as_str() {
        Some("approval_event") => {
            let mut text =
                format!("approval {} {} by {}", s(&entry["approval_id"]), s(&entry["event"]), s(&entry["actor"]));
            if let Some(channel) = entry["detail"]["channel"].as_str() {
                text.push_str(&format!(" ({channel})"));
            }
            text
        }
        Some("gap") => {
            format!("stream {}: {} records dropped by the proxy", s(&entry["stream"]), entry["gap"]["dropped"])
        }
        _ => {
            let who = &entry["who"];
            let mut text = if who.is_null() {
                "anonymous".to_string()
            } else {
                let actors: Vec<String> =
                    who["actors"].as_array().map(|a| a.iter().map(|x| s(&x["subject"])).collect()).unwrap_or_default();
                if actors.is_empty() {
                    s(&who["subject"])
                } else {
                    format!("{} acting for {}", actors.join(" via "), s(&who["subject"]))
                }
            };
            let what = &entry["what"];
            text.push_str(&format!(" {} {}{}", s(&what["method"]), s(&what["authority"]), s(&what["path"])));
            if let Some(calls) = what["action"]["mcp"].as_array() {
                for call in calls {
                    text.push_str(&format!(" [{} {}]", s(&call["method"]), s(&call["tool"])));
                }
            }
            if let Some(sql) = what["action"]["sql"].as_object() {
                let list = |key: &str| -> String {
                    sql.get(key).and_then(Value::as_array).map_or_else(String::new, |items| {
                        items.iter().map(|item| item.as_str().unwrap_or("?")).collect::<Vec<_>>().join(",")
                    })
                };
                text.push_str(&format!(" [sql {} on {}]", list("classes"), list("tables")));
            }
            let decision = &entry["decision"];
            if !decision.is_null() {
                let rules: Vec<String> =
                    decision["rules"].as_array().map(|r| r.iter().map(&s).collect()).unwrap_or_default();
                text.push_str(&format!("; {} ({})", s(&decision["effect"]), rules.join(",")));
            }
            let approval = &entry["approval"];
            if !approval.is_null() {
                text.push_str(&format!("; approval {} {}", s(&approval["approval_id"]), s(&approval["status"])));
                if let Some(by) = approval["approver"].as_str() {
                    text.push_str(&format!(" by {by}"));
                }
                if let Some(at) = approval["decided_at"].as_u64() {
                    text.push_str(&format!(" at {}", format_time(at.saturating_mul(1000))));
                }
                if approval["forced"].as_bool() == Some(true) {
                    text.push_str(" (FORCED, break-glass)");
                }
            }
            for direction in ["request", "response"] {
                if let Some(counts) = entry["masking"][direction]["counts"].as_object() {
                    let found: Vec<String> = counts
                        .iter()
                        .filter_map(|(kind, n)| n.as_u64().filter(|n| *n > 0).map(|n| format!("{n} {kind}")))
                        .collect();
                    if !found.is_empty() {
                        text.push_str(&format!("; masked in the {direction}: {}", found.join(", ")));
                    }
                }
            }
            let refused = &entry["refused"];
            if refused.is_object() {
                text.push_str(&format!("; REFUSED by {} ({})", s(&refused["by"]), s(&refused["code"])));
            }
            text.push_str(&format!("; {}", entry["outcome"]["status"]));
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use serde_json::json;

    #[test]
    fn a_sql_request_reads_as_its_classes_and_tables() {
        let entry = json!({"kind": "request",
            "who": {"subject": "alice", "actors": [{"subject": "agent:assistant"}]},
            "what": {"method": "POST", "authority": "db", "path": "/sql",
                     "action": {"sql": {"classes": ["ddl"], "tables": ["customers", "orders"]}}},
            "decision": {"effect": "deny", "rules": ["agents-no-destructive-sql"]},
            "outcome": {"status": 403}});
        assert_eq!(
            describe(&entry),
            "agent:assistant acting for alice POST db/sql [sql ddl on customers,orders]; \
             deny (agents-no-destructive-sql); 403"
        );
    }
}
