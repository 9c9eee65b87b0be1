//! The policy version decisions, approvals and audit records cite: SHA-256 over the canonical
//! JSON (RFC 8785) of the decision-relevant configuration, full length, the same wherever it is
//! computed (the `approval-required-without-approval-stage` scenario checks the wasm filter
//! reports the value pinned here).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::StageKind;
use warden_policy::compile::PolicySet;
use warden_policy::{Policy, PolicyConfig};

fn version(config: &str) -> String {
    let config: PolicyConfig = serde_yaml_ng::from_str(config).unwrap();
    Policy::compile(config).unwrap().version
}

const DELETES: &str = r#"
default: allow
policies:
  - name: deletes
    rules:
      - id: deletes-need-approval
        match: {methods: [DELETE]}
        effect: require_approval
        approval: {approvers: {groups: [sre]}}
"#;

#[test]
fn the_version_is_the_full_sha256_of_the_canonical_policy() {
    let v = version(DELETES);
    assert_eq!(v, "sha256:f2defab513f43b6ed34fa141510afa4d84661e5f914fea4d281687fb57d10a82");
    let config: PolicyConfig = serde_yaml_ng::from_str(DELETES).unwrap();
    let canonical = String::from_utf8(PolicySet::of(&config).canonical_json().unwrap()).unwrap();
    assert_eq!(
        canonical,
        r#"{"default":"allow","policies":[{"name":"deletes","rules":[{"approval":{"approvers":{"groups":["sre"]}},"effect":"require_approval","id":"deletes-need-approval","match":{"methods":["DELETE"]},"mode":"enforce"}]}]}"#
    );
}

#[test]
fn how_a_policy_is_written_does_not_change_its_version() {
    let json = r#"{"policies": [{"rules": [{"effect": "require_approval", "approval": {"approvers": {"groups": ["sre"]}},
                   "match": {"methods": ["DELETE"]}, "id": "deletes-need-approval", "mode": "enforce"}], "name": "deletes"}],
                   "default": "allow", "tools_list": "pass", "max_body_bytes": 1000}"#;
    assert_eq!(version(json), version(DELETES), "JSON or YAML, key order, defaults spelled out, response shaping");
}

#[test]
fn anything_that_changes_a_decision_changes_the_version() {
    let base = version(DELETES);
    for changed in [
        DELETES.replace("default: allow", "default: deny"),
        DELETES.replace("[sre]", "[sre, dba]"),
        DELETES.replace("DELETE", "POST"),
        DELETES.replace("deletes-need-approval", "deletes-need-an-approval"),
        format!("{DELETES}time_zone: Europe/Berlin\n"),
    ] {
        assert_ne!(version(&changed), base, "{changed}");
    }
}

#[test]
fn the_canonical_form_reads_back_to_the_same_version() {
    let config: PolicyConfig = serde_yaml_ng::from_str(DELETES).unwrap();
    let canonical = PolicySet::of(&config).canonical_json().unwrap();
    let again: PolicyConfig = serde_json::from_slice(&canonical).unwrap();
    assert_eq!(Policy::compile(again).unwrap().version, version(DELETES));
}
