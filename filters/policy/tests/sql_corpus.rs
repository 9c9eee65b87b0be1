//! The adversarial SQL corpus (`policies/sql-read-only/cases.yaml`, written by its
//! `corpus.py`): every statement that changes something is classified as more than a read,
//! whatever the dialect or the disguise; every genuine read stays a read, fully understood.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use warden_policy::config::SqlClassConfig as SqlClass;
use warden_policy::sql::classify;

fn corpus() -> Vec<(String, String, String)> {
    let text = include_str!("../../../policies/sql-read-only/cases.yaml");
    let cases: Value = serde_yaml_ng::from_str(text).unwrap();
    cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["name"].as_str().unwrap().to_string(),
                case["request"]["json"]["query"].as_str().unwrap().to_string(),
                case["expect"]["effect"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_change_is_more_than_a_read_and_every_read_stays_one() {
    let cases = corpus();
    let changes = cases.iter().filter(|(_, _, effect)| effect == "deny").count();
    let reads = cases.len() - changes;
    assert!(changes >= 100 && reads >= 50, "{changes} changes, {reads} reads");
    let mut wrong = Vec::new();
    for (name, sql, effect) in &cases {
        let facts = classify(sql);
        let changes_something = facts.destructive || facts.classes.iter().any(|c| *c != SqlClass::Read);
        let ok = if effect == "deny" {
            changes_something
        } else {
            !changes_something && facts.parsed && facts.classes == [SqlClass::Read].into()
        };
        if !ok {
            wrong.push(format!("{name}: {sql:?} → {facts:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} misclassified:\n{}", wrong.len(), wrong.join("\n"));
}
