//! `warden audit report`: a Markdown report an auditor reads, from a bundle verified offline:
//! what was checked, the population (decisions, approvals, forced approvals, masking, who
//! acted), gaps, samples with their inclusion proofs, and which controls each part supports.

use crate::audit::{describe_text, json_name};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use warden_evidence::core::bundle::{Bundle, Report};
use warden_kit::audit::RecordKind;
use warden_kit::ledger::LedgerEntry;

/// A framework's controls and what in the evidence supports each.
fn controls(framework: &str) -> Option<Vec<(&'static str, &'static str)>> {
    match framework {
        "soc2" => Some(vec![
            ("CC6.1 logical access", "every request's verified identity (`who`) and the policy decision that let it through or refused it (`decision`, policy version)"),
            ("CC6.3 access changes and approvals", "risky actions held until a named human approved them (`approval`, signed receipt, approval events)"),
            ("CC7.2 monitoring", "one record per request, refused ones included; per-proxy streams with sequence numbers and hash chains: gaps are visible"),
            ("CC8.1 change authorization", "approvals bound to the exact action (digest) and used once; break-glass decisions flagged as forced"),
            ("C1.1 / P4 confidentiality", "what masking hid, by type and count, without the values (`masking`)"),
        ]),
        "nist-800-53" => Some(vec![
            ("AU-2 event logging", "every request through the proxy is logged, whichever stage answered it"),
            ("AU-3 content of audit records", "who (subject, actor chain, method), what (method, host, path, MCP tool and argument names, SQL classes and tables), when, where from, outcome"),
            ("AU-9 protection of audit information", "a Merkle log with Ed25519-signed checkpoints (and witness cosignatures); this report's bundle was verified offline"),
            ("AU-10 non-repudiation", "approvals carry the approval service's signed receipt; checkpoints are signed by the log"),
            ("AC-3 access enforcement", "the policy decision and its rules for each request; refusals recorded with their reasons"),
        ]),
        _ => None,
    }
}

fn count<'a>(map: &mut BTreeMap<String, u64>, key: impl Into<std::borrow::Cow<'a, str>>) {
    *map.entry(key.into().into_owned()).or_insert(0) += 1;
}

fn table(out: &mut String, title: &str, rows: &BTreeMap<String, u64>) {
    let _ = writeln!(out, "| {title} | count |\n| --- | --- |");
    for (key, n) in rows {
        let _ = writeln!(out, "| {key} | {n} |");
    }
    if rows.is_empty() {
        let _ = writeln!(out, "| (none) | 0 |");
    }
    out.push('\n');
}

/// The report of `bundle` (already verified into `report`) for `framework` (`soc2` or
/// `nist-800-53`), as Markdown; `None` for an unknown framework.
pub fn render(bundle: &Bundle, report: &Report, framework: &str) -> Option<String> {
    let controls = controls(framework)?;
    let mut effects = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    let mut approvals = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    let mut masked = BTreeMap::new();
    let mut forced = Vec::new();
    let (mut delegated, mut with_masking) = (0u64, 0u64);
    for (offset, entry) in bundle.entries.iter().enumerate() {
        let Ok(LedgerEntry::Record(record)) = serde_json::from_str::<LedgerEntry>(entry) else { continue };
        if record.kind != RecordKind::Request {
            continue;
        }
        let effect = record.decision.as_ref().map(|d| json_name(d.effect));
        count(&mut effects, effect.unwrap_or_else(|| "no policy decision".into()));
        let status = record.outcome.as_ref().map_or(0, |o| o.status);
        count(&mut statuses, format!("{}xx", status / 100));
        if let Some(approval) = &record.approval {
            count(&mut approvals, json_name(approval.status));
            if approval.forced {
                forced.push(bundle.from + offset as u64);
            }
        }
        let kind = record.who.as_ref().map(|w| json_name(w.kind));
        count(&mut kinds, kind.unwrap_or_else(|| "anonymous".into()));
        if record.who.as_ref().is_some_and(|w| !w.actors.is_empty()) {
            delegated += 1;
        }
        let mut any = false;
        if let Some(masking) = &record.masking {
            for (direction, report) in [("request", &masking.request), ("response", &masking.response)] {
                for (kind, n) in report.iter().flat_map(|r| r.counts.iter()) {
                    *masked.entry(format!("{kind} ({direction})")).or_insert(0) += n;
                    any = true;
                }
            }
        }
        with_masking += u64::from(any);
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Evidence report ({framework})\n");
    let _ = writeln!(
        out,
        "- Log: `{}`, entries {} to {} ({} entries)",
        bundle.origin, report.from, report.to, report.entries
    );
    let verdict = if report.ok() { "**verified**" } else { "**NOT verified**" };
    let _ = writeln!(
        out,
        "- Verification (offline, `warden audit verify`): {verdict}: signatures, the tree recomputed from the entries, consistency, record form, {} streams' sequences and hash chains, {} inclusion proofs",
        report.streams.len(),
        report.proofs
    );
    if !report.witnesses.is_empty() {
        let _ = writeln!(out, "- Checkpoint cosigned by: {}", report.witnesses.join(", "));
    }
    for failure in &report.failures {
        let _ = writeln!(out, "- FAILURE: {failure}");
    }
    let _ = writeln!(
        out,
        "\n## Population\n\n{} requests, {} approval events, {} requests by an agent acting for someone, {} requests with masked data.\n",
        report.requests, report.approval_events, delegated, with_masking
    );
    table(&mut out, "decision", &effects);
    table(&mut out, "response status", &statuses);
    table(&mut out, "approval outcome", &approvals);
    table(&mut out, "caller kind", &kinds);
    table(&mut out, "values masked (type, direction)", &masked);
    let _ = writeln!(
        out,
        "Forced (break-glass) approvals: {}",
        if forced.is_empty() { "none".to_string() } else { format!("{forced:?}") }
    );
    let _ = writeln!(out, "\n## Gaps\n");
    let gaps: Vec<_> = report.streams.iter().filter(|(_, s)| s.missing > 0 || s.dropped > 0).collect();
    if gaps.is_empty() {
        let _ = writeln!(out, "None: every stream's sequence is complete.");
    }
    for (id, s) in gaps {
        let _ = writeln!(
            out,
            "- stream `{id}`: {} records missing, {} reported dropped by the proxy",
            s.missing, s.dropped
        );
    }
    let _ = writeln!(out, "\n## Samples (each with a verified inclusion proof)\n");
    for index in bundle.proofs.keys() {
        let entry = index.checked_sub(bundle.from).and_then(|k| bundle.entries.get(usize::try_from(k).ok()?));
        if let Some(entry) = entry {
            let _ = writeln!(out, "- entry {index}: {}", describe_text(entry));
        }
    }
    let _ = writeln!(out, "\n## Controls\n\n| control | supported by |\n| --- | --- |");
    for (control, evidence) in controls {
        let _ = writeln!(out, "| {control} | {evidence} |");
    }
    Some(out)
}
