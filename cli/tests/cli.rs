//! `warden test` on bad input: a clear message and a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn warden(args: &[&str], envs: &[(&str, &Path)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command.args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn unknown_field_fails_the_scenario_and_names_the_field() {
    let dir = scratch("unknown-field");
    let file = dir.join("typo.scenario.yaml");
    std::fs::write(&file, "filters: [{wasm: x.wasm}]\nrequests: [{expect: {statuz: 200}}]\n").unwrap();
    let (code, out) = warden(&["test", file.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown field `statuz`"), "{out}");
    assert!(out.contains("0 passed, 1 failed"), "{out}");
}

#[test]
fn missing_wasm_says_how_to_build_it() {
    let dir = scratch("missing-wasm");
    let file = dir.join("missing.scenario.yaml");
    std::fs::write(&file, "filters: [{wasm: no_such_filter.wasm}]\n").unwrap();
    let (code, out) = warden(&["test", file.to_str().unwrap()], &[("WARDEN_WASM_DIR", &dir)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_such_filter.wasm") && out.contains("ci/build-wasm"), "{out}");
}

#[test]
fn envoy_that_does_not_start_shows_its_log_tail() {
    let dir = scratch("bad-envoy");
    std::fs::write(dir.join("filter.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let file = dir.join("any.scenario.yaml");
    std::fs::write(&file, "filters: [{wasm: filter.wasm}]\nrequests: [{}]\n").unwrap();
    let fake = dir.join("envoy");
    std::fs::write(&fake, "#!/bin/sh\necho 'critical: error initializing configuration: bad wasm' >&2\nexit 1\n")
        .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let work = dir.join("work");
    let (code, out) = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(&dir)
        .args(["test", "--envoy", "--envoy-bin"])
        .arg(&fake)
        .arg(&file)
        .env("TMPDIR", &work)
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
            )
        })
        .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Envoy exited at startup"), "{out}");
    assert!(out.contains("error initializing configuration: bad wasm"), "{out}");
}

#[test]
fn no_scenarios_is_an_error() {
    let dir = scratch("empty");
    let (code, out) = warden(&["test", dir.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no *.scenario.yaml"), "{out}");
}

#[test]
fn policy_check_names_the_file_the_rule_and_the_field() {
    let dir = scratch("policy-check");
    let file = dir.join("policy.yaml");
    std::fs::write(
        &file,
        "name: p\nrules:\n  - {id: ok, effect: allow}\n  - {id: bad-method, effect: deny, match: {methods: [get]}}\n",
    )
    .unwrap();
    let (code, out) = warden(&["policy", "check", file.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("policy.yaml (rule `bad-method`)"), "{out}");
    assert!(out.contains("`policies[0].rules[1].match.methods[0]`"), "{out}");
}

#[test]
fn policy_check_gives_the_line_of_a_yaml_error() {
    let dir = scratch("policy-yaml");
    let file = dir.join("policy.yaml");
    std::fs::write(&file, "name: p\nrules:\n  - id: a\n    effect: allow\n    bogus: 1\n").unwrap();
    let (code, out) = warden(&["policy", "check", file.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown field `bogus`") && out.contains("line 5"), "{out}");
}

#[test]
fn policy_test_fails_a_case_whose_expectation_is_wrong() {
    let dir = scratch("policy-test");
    std::fs::write(
        dir.join("policy.yaml"),
        "name: p\nrules:\n  - {id: admin, match: {paths: [{prefix: /admin}]}, effect: deny}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("cases.yaml"),
        "default: allow\ncases:\n  - {name: right, request: {path: /admin}, expect: {effect: deny, rules: [admin]}}\n  - {name: wrong, request: {path: /admin}, expect: {effect: allow}}\n",
    )
    .unwrap();
    let (code, out) = warden(&["policy", "test", dir.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL") && out.contains("wrong") && out.contains("1 passed, 1 failed"), "{out}");
}
