//! Compares what a backend observed with what a scenario expects.

use super::format::{LedgerExpect, Matcher, RequestExpect, Scenario, UpstreamExpect};
use super::observed::{LedgerView, Observed, RequestView, UpstreamView};
use crate::proxy::Outcome;
use std::collections::BTreeMap;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
}

fn check_map(
    what: &str,
    expected: &BTreeMap<String, Option<Matcher>>,
    lookup: impl Fn(&str) -> Option<String>,
    failures: &mut Vec<String>,
) {
    for (name, matcher) in expected {
        match (matcher, lookup(name)) {
            (None, Some(actual)) => failures.push(format!("{what} `{name}` should be absent, is {actual:?}")),
            (Some(m), None) => failures.push(format!("{what} `{name}` missing, expected {m}")),
            (Some(m), Some(actual)) if !m.accepts(&actual) => {
                failures.push(format!("{what} `{name}` is {actual:?}, expected {m}"))
            }
            _ => {}
        }
    }
}

fn check_text(what: &str, matcher: &Option<Matcher>, actual: &str, failures: &mut Vec<String>) {
    if let Some(m) = matcher {
        if !m.accepts(actual) {
            failures.push(format!("{what} is {actual:?}, expected {m}"));
        }
    }
}

fn check_upstream(prefix: &str, expect: &UpstreamExpect, seen: Option<&UpstreamView>, failures: &mut Vec<String>) {
    let reached = expect.reached.unwrap_or(true);
    match (reached, seen) {
        (false, Some(_)) => failures.push(format!("{prefix}the upstream received the request; expected it not to")),
        (true, None) => failures.push(format!("{prefix}the upstream never received the request")),
        (true, Some(seen)) => {
            if let Some(method) = &expect.method {
                if *method != seen.method {
                    failures.push(format!("{prefix}upstream method is {}, expected {method}", seen.method));
                }
            }
            check_text(&format!("{prefix}upstream path"), &expect.path, &seen.path, failures);
            check_map(
                &format!("{prefix}upstream header"),
                &expect.headers,
                |n| header(&seen.headers, n).map(str::to_string),
                failures,
            );
            check_text(&format!("{prefix}upstream body"), &expect.body, &seen.body, failures);
        }
        (false, None) => {}
    }
}

fn check_request(index: usize, expect: &RequestExpect, seen: &RequestView, failures: &mut Vec<String>) {
    let prefix = format!("request {}: ", index + 1);
    let outcome = expect.outcome.unwrap_or(Outcome::Complete);
    if seen.outcome != Some(outcome) {
        failures.push(format!("{prefix}outcome is {:?}, expected {outcome:?}", seen.outcome));
    }
    if let Some(status) = expect.status {
        if seen.status != Some(status) {
            failures.push(format!("{prefix}status is {:?}, expected {status} (body {:?})", seen.status, seen.body));
        }
    }
    check_map(
        &format!("{prefix}response header"),
        &expect.headers,
        |n| header(&seen.headers, n).map(str::to_string),
        failures,
    );
    check_text(&format!("{prefix}response body"), &expect.body, &seen.body, failures);
    if let Some(streamed) = &expect.streamed {
        match &seen.body_before_last_chunk {
            Some(before) => check_text(
                &format!("{prefix}response body received before the upstream's last chunk"),
                &Some(streamed.clone()),
                before,
                failures,
            ),
            None => failures.push(format!(
                "{prefix}the upstream never held back a last chunk (`streamed` needs `upstream.hold_last_chunk_ms` and 2+ chunks)"
            )),
        }
    }
    if let Some(upstream) = &expect.upstream {
        check_upstream(&prefix, upstream, seen.upstream.as_ref(), failures);
    }
    check_map(&format!("{prefix}filter state"), &expect.filter_state, |k| seen.filter_state.get(k).cloned(), failures);
}

/// Every way `observed` differs from what `scenario` expects (empty = pass).
pub fn check(scenario: &Scenario, observed: &Observed) -> Vec<String> {
    let mut failures: Vec<String> = observed.errors.iter().map(|e| format!("service: {e}")).collect();
    let run = &scenario.expect;
    match (&run.load_error, &observed.load_error) {
        (Some(m), Some(actual)) if !m.accepts(actual) => {
            failures.push(format!("load error is {actual:?}, expected {m}"));
        }
        (Some(m), None) => failures.push(format!("the chain started; expected a load error {m}")),
        (None, Some(actual)) => failures.push(format!("the chain failed to start: {actual}")),
        _ => {}
    }
    // Requests are sent only when the chain started; everything else a scenario states (logs,
    // metrics, callouts) is checked either way.
    if observed.load_error.is_none() {
        for (i, request) in scenario.requests.iter().enumerate() {
            match observed.requests.get(i) {
                Some(seen) => check_request(i, &request.expect, seen, &mut failures),
                None => failures.push(format!("request {}: never sent", i + 1)),
            }
        }
    }
    if let Some(expected) = &run.ledger {
        check_ledger(expected, observed.ledger.as_ref(), &mut failures);
    }
    for m in &run.logs {
        if !observed.logs.iter().any(|line| m.accepts(line)) {
            failures.push(format!("no log line {m}"));
        }
    }
    for m in &run.no_logs {
        if let Some(line) = observed.logs.iter().find(|line| m.accepts(line)) {
            failures.push(format!("log line {line:?} should not appear ({m})"));
        }
    }
    for (name, value) in &run.metrics {
        match observed.metrics.get(name) {
            Some(actual) if actual == value => {}
            actual => failures.push(format!("metric `{name}` is {actual:?}, expected {value}")),
        }
    }
    for (i, expect) in run.callouts.iter().enumerate() {
        let prefix = format!("callout {}: ", i + 1);
        let Some(seen) = observed.callouts.get(i) else {
            failures.push(format!("{prefix}never made (expected to cluster `{}`)", expect.cluster));
            continue;
        };
        let as_upstream = UpstreamExpect {
            reached: Some(true),
            method: expect.method.clone(),
            path: expect.path.clone(),
            headers: expect.headers.clone(),
            body: expect.body.clone(),
        };
        check_upstream(&prefix, &as_upstream, Some(seen), &mut failures);
        if seen.cluster != expect.cluster {
            failures.push(format!("{prefix}went to cluster `{}`, expected `{}`", seen.cluster, expect.cluster));
        }
    }
    failures
}

fn check_ledger(expected: &LedgerExpect, seen: Option<&LedgerView>, failures: &mut Vec<String>) {
    let Some(seen) = seen else {
        failures.push("ledger: not read (the scenario needs a `service: approvals` cluster)".into());
        return;
    };
    if !seen.verified {
        failures.push(format!("ledger: `warden audit verify` refused the exported bundle:\n{}", seen.report));
    }
    if seen.records != expected.records {
        failures.push(format!("ledger: {} request records, expected {}", seen.records, expected.records));
    }
    if seen.intents != expected.intents {
        failures.push(format!("ledger: {} intent records, expected {}", seen.intents, expected.intents));
    }
    if seen.approval_events < expected.approval_events {
        failures.push(format!(
            "ledger: {} approval events, expected at least {}",
            seen.approval_events, expected.approval_events
        ));
    }
    for secret in &expected.excludes {
        if seen.bundle.contains(secret.as_str()) {
            failures.push(format!("ledger: the exported bundle contains {secret:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scenario(yaml: &str) -> Scenario {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn a_matching_load_error_does_not_end_the_checks() {
        let scenario = scenario(
            "filters: [{wasm: x.wasm}]\nexpect:\n  load_error: {contains: rejected}\n  logs: [{contains: \"names the field\"}]\n  metrics: {warden_x_total: 1}\n",
        );
        let observed = Observed { load_error: Some("config rejected".into()), ..Observed::default() };
        let failures = check(&scenario, &observed);
        assert!(failures.iter().any(|f| f.contains("no log line contains \"names the field\"")), "{failures:?}");
        assert!(failures.iter().any(|f| f.contains("metric `warden_x_total`")), "{failures:?}");
        let logged = Observed { logs: vec!["it names the field".into()], ..observed };
        assert_eq!(check(&scenario, &logged).len(), 1, "only the metric is missing");
    }

    #[test]
    fn requests_are_not_expected_from_a_chain_that_never_started() {
        let scenario = scenario(
            "filters: [{wasm: x.wasm}]\nrequests: [{expect: {status: 403}}]\nexpect: {load_error: {contains: rejected}}\n",
        );
        let observed = Observed { load_error: Some("rejected".into()), ..Observed::default() };
        assert!(check(&scenario, &observed).is_empty());
    }
}
