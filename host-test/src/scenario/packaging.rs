//! Running one scenario under another packaging: the `suite` packaging merges each run of
//! consecutive Warden stage modules (`warden_guard.wasm`, `warden_identity.wasm`, ...) into one
//! `warden.wasm` filter whose `stages` list those stages with their configurations, so one
//! scenario file shows the same behaviour from separate modules and from the suite.

use super::format::{FilterDef, Packaging, Scenario};
use anyhow::bail;
use serde_json::{json, Value};

/// Stage modules the suite can take over, by artifact name, with their stage names.
const STAGE_MODULES: [(&str, &str); 6] = [
    ("warden_guard.wasm", "guard"),
    ("warden_identity.wasm", "identity"),
    ("warden_policy.wasm", "policy"),
    ("warden_approval.wasm", "approval"),
    ("warden_mask.wasm", "mask"),
    ("warden_audit.wasm", "audit"),
];

fn stage_of(filter: &FilterDef) -> Option<&'static str> {
    STAGE_MODULES.iter().find(|(module, _)| *module == filter.wasm).map(|(_, stage)| *stage)
}

/// `scenario` as run under `packaging`. Errors when a stage module sets something the suite
/// cannot carry per stage (its own plugin name, VM, failure policy or environment).
pub fn packaged(scenario: &Scenario, packaging: Packaging) -> anyhow::Result<Scenario> {
    match packaging {
        Packaging::Module => Ok(scenario.clone()),
        Packaging::Suite => merged(scenario),
        Packaging::Component => component(scenario),
    }
}

/// The component packaging's artifact (in the wasm32-wasip2 output directory).
pub const COMPONENT: &str = "warden_component.wasm";

/// `scenario` with its suite filter as `warden_component.wasm`. Errors say which Envoy-only
/// behaviour the scenario relies on, so it cannot list this packaging.
fn component(scenario: &Scenario) -> anyhow::Result<Scenario> {
    let suite =
        if scenario.filters.iter().all(|f| f.wasm == "warden.wasm") { scenario.clone() } else { merged(scenario)? };
    if let Some((i, other)) = suite.filters.iter().enumerate().find(|(_, f)| f.wasm != "warden.wasm") {
        bail!("filters[{i}] (`{}`) is not a Warden stage: a component runs Warden's stages alone", other.wasm);
    }
    let uses = [
        (
            "a client certificate (wasi:http tells a component nothing about the connection)",
            scenario.client_certificate.is_some(),
        ),
        ("several workers (an Envoy setting)", scenario.workers > 1),
        (
            "`expect.load_error` (a component compiles its configuration on its first request)",
            scenario.expect.load_error.is_some(),
        ),
        (
            "`expect.streamed` (the harness's component host delivers bodies whole)",
            scenario.requests.iter().any(|r| r.expect.streamed.is_some()),
        ),
        ("request trailers", scenario.requests.iter().any(|r| !r.trailers.is_empty())),
    ];
    if let Some((what, _)) = uses.iter().find(|(_, used)| *used) {
        bail!("the scenario relies on {what}");
    }
    let mut filters = suite.filters;
    for filter in &mut filters {
        filter.wasm = COMPONENT.into();
    }
    Ok(Scenario { filters, backends: Some(vec![super::format::Backend::Harness]), ..suite })
}

/// `scenario` with each run of consecutive stage modules merged into one `warden.wasm`.
fn merged(scenario: &Scenario) -> anyhow::Result<Scenario> {
    let mut filters: Vec<FilterDef> = Vec::new();
    let mut merging: Option<Vec<Value>> = None;
    for (i, filter) in scenario.filters.iter().enumerate() {
        let Some(stage) = stage_of(filter) else {
            if let Some(stages) = merging.take() {
                filters.push(suite_filter(stages));
            }
            filters.push(filter.clone());
            continue;
        };
        let own = [
            ("name", filter.name.is_some()),
            ("root_id", filter.root_id.is_some()),
            ("vm_id", filter.vm_id.is_some()),
            ("vm_config", filter.vm_config.is_some()),
            ("env", !filter.env.is_empty()),
            ("failure_policy", filter.failure_policy != Default::default()),
        ];
        if let Some((field, _)) = own.iter().find(|(_, set)| *set) {
            bail!("filters[{i}] sets `{field}`, which the suite packaging cannot give one stage");
        }
        let config = match &filter.config {
            None => json!({}),
            Some(Value::String(text)) => serde_json::from_str(text)?,
            Some(other) => other.clone(),
        };
        merging.get_or_insert_with(Vec::new).push(json!({"name": stage, "config": config}));
    }
    if let Some(stages) = merging.take() {
        filters.push(suite_filter(stages));
    }
    if !scenario.filters.iter().any(|f| stage_of(f).is_some()) {
        bail!("no Warden stage module (warden_<stage>.wasm) to run as the suite");
    }
    Ok(Scenario { filters, ..scenario.clone() })
}

fn suite_filter(stages: Vec<Value>) -> FilterDef {
    FilterDef {
        wasm: "warden.wasm".into(),
        name: None,
        root_id: None,
        vm_id: None,
        config: Some(json!({ "stages": stages })),
        vm_config: None,
        failure_policy: Default::default(),
        env: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(yaml: &str) -> Scenario {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn consecutive_stage_modules_become_one_suite_filter() {
        let s = scenario(
            "filters:\n  - {wasm: warden_probe.wasm}\n  - {wasm: warden_identity.wasm, config: {api_keys: {keys: []}}}\n  - {wasm: warden_policy.wasm, config: '{\"policies\":[]}'}\n",
        );
        let suite = packaged(&s, Packaging::Suite).unwrap();
        assert_eq!(suite.filters.len(), 2);
        assert_eq!(suite.filters[0].wasm, "warden_probe.wasm");
        assert_eq!(suite.filters[1].wasm, "warden.wasm");
        assert_eq!(
            suite.filters[1].config,
            Some(json!({"stages": [{"name": "identity", "config": {"api_keys": {"keys": []}}},
                                   {"name": "policy", "config": {"policies": []}}]}))
        );
        assert_eq!(packaged(&s, Packaging::Module).unwrap().filters.len(), 3);
    }

    #[test]
    fn the_component_packaging_runs_the_merged_stages_as_the_component_in_the_harness() {
        let s = scenario(
            "filters:\n  - {wasm: warden_identity.wasm, config: {api_keys: {keys: []}}}\n  - {wasm: warden_policy.wasm, config: {policies: []}}\n",
        );
        let component = packaged(&s, Packaging::Component).unwrap();
        assert_eq!(component.filters.len(), 1);
        assert_eq!(component.filters[0].wasm, COMPONENT);
        assert_eq!(component.filters[0].config, packaged(&s, Packaging::Suite).unwrap().filters[0].config);
        assert_eq!(component.backends, Some(vec![crate::scenario::Backend::Harness]));
    }

    #[test]
    fn envoy_only_behaviour_keeps_a_scenario_out_of_the_component_packaging() {
        let with_probe = scenario("filters:\n  - {wasm: warden_probe.wasm}\n  - {wasm: warden_guard.wasm}\n");
        let err = packaged(&with_probe, Packaging::Component).unwrap_err().to_string();
        assert!(err.contains("`warden_probe.wasm`) is not a Warden stage"), "{err}");
        let mtls =
            scenario("client_certificate: {uri_san: spiffe://a/b}\nfilters:\n  - {wasm: warden_identity.wasm}\n");
        let err = packaged(&mtls, Packaging::Component).unwrap_err().to_string();
        assert!(err.contains("client certificate"), "{err}");
        let load = scenario("filters:\n  - {wasm: warden_guard.wasm}\nexpect: {load_error: x}\n");
        assert!(packaged(&load, Packaging::Component).unwrap_err().to_string().contains("load_error"));
    }

    #[test]
    fn a_stage_module_with_its_own_vm_settings_cannot_be_merged() {
        let s = scenario("filters:\n  - {wasm: warden_mask.wasm, failure_policy: FAIL_OPEN}\n");
        let err = packaged(&s, Packaging::Suite).unwrap_err().to_string();
        assert!(err.contains("filters[0] sets `failure_policy`"), "{err}");
    }
}
