//! `warden policy`: prints what `warden_policy::packs` finds.

use std::path::{Path, PathBuf};
use warden_policy::packs;

/// `warden policy check`: one line per file, with its rule count and policy version.
pub fn check(files: &[PathBuf]) -> anyhow::Result<bool> {
    let mut ok = true;
    for path in files {
        match packs::check(path) {
            Ok(checked) => println!("OK   {} ({} rules, {})", path.display(), checked.rules, checked.version),
            Err(err) => {
                ok = false;
                println!("FAIL {err}");
            }
        }
    }
    Ok(ok)
}

/// `warden policy test`: runs every pack's cases; prints failures and `N passed, M failed`.
pub fn test(paths: &[PathBuf]) -> anyhow::Result<bool> {
    let dirs = packs::find_packs(paths)?;
    if dirs.is_empty() {
        return Err(packs::PackError::NoPacks.into());
    }
    let (mut passed, mut failed) = (0, 0);
    for dir in dirs {
        for case in packs::run_pack(&dir)? {
            if case.problems.is_empty() {
                passed += 1;
                continue;
            }
            failed += 1;
            println!("FAIL {}: {}", dir.display(), case.name);
            for problem in &case.problems {
                println!("    {problem}");
            }
            println!("    reasons: {:?}", case.reasons);
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// `warden policy explain`: the decision, then for each rule whether and why it matched.
pub fn explain(policy_file: &Path, request_file: &Path) -> anyhow::Result<bool> {
    let policy = packs::compile_file(policy_file, None)?;
    let explanation = packs::read_input(request_file)?.explain(&policy);
    println!("decision: {}", serde_json::to_string(&explanation.decision.fact)?);
    for rule in &explanation.rules {
        let verdict = match rule.missed {
            None => "matched".to_string(),
            Some(condition) => format!("no match ({condition})"),
        };
        let mode = if rule.dry_run { " [dry run]" } else { "" };
        let effect = serde_json::to_value(rule.effect)?.as_str().unwrap_or_default().to_string();
        println!("  {:<40} {:<18} {verdict}{mode}", rule.rule, effect);
    }
    Ok(true)
}

/// `warden policy publish`: sends the policy's canonical JSON to the evidence ledger and prints
/// the version it was stored under (the version its decisions carry).
pub fn publish(path: &std::path::Path, url: &str, key: &str) -> anyhow::Result<bool> {
    let (version, json) = packs::published(path)?;
    let agent = warden_service_shared::http_client::agent(None);
    let target = format!("{}/v1/policies", url.trim_end_matches('/'));
    let response = agent
        .post(&target)
        .header("authorization", &format!("Bearer {key}"))
        .header("content-type", "application/json")
        .send(&json[..])
        .map_err(|e| anyhow::anyhow!("cannot reach the evidence ledger at {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status != 201 {
        let message = answer["error"]["message"].as_str().unwrap_or("");
        return Err(anyhow::anyhow!("{status} {}: {message}", answer["error"]["code"].as_str().unwrap_or("error")));
    }
    if answer["version"].as_str() != Some(version.as_str()) {
        return Err(anyhow::anyhow!(
            "the ledger stored it as {} but the policy's version is {version}",
            answer["version"]
        ));
    }
    println!("published {} as {version}", path.display());
    Ok(true)
}
