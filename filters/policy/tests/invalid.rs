//! Every policy in `invalid-policies.yaml` is rejected at load with the expected field and
//! message (what `warden policy check` and Envoy's log show).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Case {
    case: String,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    rules: Option<Value>,
    error: String,
}

#[test]
fn every_invalid_policy_is_rejected_with_the_expected_message() {
    let text = include_str!("invalid-policies.yaml");
    let cases: Vec<Case> = serde_yaml_ng::from_str(text).unwrap();
    assert!(cases.len() >= 30, "the corpus keeps at least 30 cases, has {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let config = match (&case.config, &case.rules) {
            (Some(config), _) => config.clone(),
            (None, Some(rules)) => json!({"policies": [{"name": "p", "rules": rules}]}),
            (None, None) => panic!("{}: give config or rules", case.case),
        };
        match warden_policy::STAGE.standalone(config.to_string().as_bytes()) {
            Ok(_) => failures.push(format!("{}: accepted", case.case)),
            Err(err) if !err.to_string().contains(&case.error) => {
                failures.push(format!("{}: got `{err}`, expected it to contain `{}`", case.case, case.error))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
