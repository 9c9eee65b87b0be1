//! Paths spelled so that Envoy and an upstream may disagree are refused where rules match on
//! paths; case-insensitive matching is an option for upstreams that route that way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::facts::Verdict;
use warden_kit::StageKind;
use warden_policy::request::Request;
use warden_policy::{Policy, PolicyConfig};

fn policy(extra: &str) -> Policy {
    let yaml = format!(
        r#"
policies:
  - name: admin
    rules:
      - {{id: no-admin, match: {{paths: [{{prefix: /admin/}}, {{exact: /admin}}]}}, effect: deny, message: no admin}}
      - {{id: public, match: {{paths: [{{prefix: /}}]}}, effect: allow}}
{extra}"#
    );
    let config: PolicyConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    Policy::compile(config).unwrap()
}

fn decide(policy: &Policy, path: &str) -> (Verdict, Option<&'static str>, Vec<String>) {
    let headers = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), path.to_string()),
        (":authority".to_string(), "a".to_string()),
    ];
    let decision = policy.decide(&Request::new(&headers, None, None, 0).for_policy(policy), b"");
    (decision.fact.effect, decision.ambiguous_path, decision.fact.rules)
}

#[test]
fn spellings_that_reach_admin_on_a_lenient_upstream_are_refused_before_the_rules() {
    let p = policy("");
    for path in [
        "/admin%2Fusers",
        "/admin%2fusers",
        "/public/..%2Fadmin/users",
        "/admin;x/users",
        "/public/%2e%2e/admin/users",
        "/admin\\users",
        "/public/../admin/users",
    ] {
        let (effect, ambiguous, rules) = decide(&p, path);
        assert_eq!((effect, ambiguous.is_some(), rules.is_empty()), (Verdict::Deny, true, true), "{path}");
    }
    // Query strings are not the path.
    assert_eq!(decide(&p, "/public/x?next=%2Fadmin;y").0, Verdict::Allow);
    assert_eq!(decide(&p, "/admin/users").2, vec!["no-admin".to_string()]);
    assert_eq!(decide(&p, "/public/report.v2.pdf").0, Verdict::Allow);
}

#[test]
fn ambiguous_paths_may_be_allowed_explicitly_and_need_path_rules_to_be_refused() {
    let p = policy("paths: {ambiguous: allow}");
    assert_eq!(decide(&p, "/public/a%2Fb"), (Verdict::Allow, None, vec!["public".to_string()]));
    let no_paths: PolicyConfig =
        serde_yaml_ng::from_str("policies: [{name: x, rules: [{id: all, match: {methods: [GET]}, effect: allow}]}]")
            .unwrap();
    let p = Policy::compile(no_paths).unwrap();
    assert_eq!(decide(&p, "/a%2Fb").0, Verdict::Allow, "no rule reads paths: nothing to disagree on");
}

#[test]
fn case_insensitive_paths_catch_what_a_case_insensitive_upstream_routes() {
    assert_eq!(decide(&policy(""), "/Admin/users").0, Verdict::Allow, "case-sensitive by default");
    let p = policy("paths: {case_insensitive: true}");
    for path in ["/Admin/users", "/ADMIN", "/admin/Users"] {
        assert_eq!(decide(&p, path).2, vec!["no-admin".to_string()], "{path}");
    }
    assert_ne!(p.version, policy("").version, "path settings are part of the policy version");
}
