//! Configurations the masking stage must refuse at load, each with the field it names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::StageKind;
use warden_mask::{MaskConfig, Masker};

fn refused(json: &str) -> String {
    let config: MaskConfig = match serde_json::from_str(json) {
        Ok(config) => config,
        Err(e) => return e.to_string(),
    };
    match Masker::compile(config) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_configurations_are_refused_naming_the_field() {
    for (json, expected) in [
        (r#"{"profiles": {"p": {"detectors": ["ssn"]}}}"#, "profiles.p.detectors[0]"),
        (r#"{"profiles": {"p": {"strategies": {"email": "hash"}}}}"#, "needs `hash_key`"),
        (r#"{"profiles": {"p": {}}, "hash_key": "short"}"#, "hash_key"),
        (r#"{"profiles": {"p": {"paths": [{"path": "users"}]}}}"#, "profiles.p.paths[0]"),
        (
            r#"{"profiles": {"p": {"strategies": {"nothing_like_this": "hash"}}}, "hash_key": "0123456789abcdef"}"#,
            "strategies.nothing_like_this",
        ),
        (r#"{"profiles": {"p": {}}, "response": "q"}"#, "no profile named `q`"),
        (r#"{"profiles": {"p": {}}, "routes": [{"prefix": "/", "request": "q"}]}"#, "routes[0].request"),
        (
            r#"{"profiles": {"p": {"custom": [{"name": "x", "pattern": "(unclosed"}]}}}"#,
            "pattern of `x` does not compile",
        ),
        (r#"{"profiles": {"p": {"custom": [{"name": "email", "pattern": "x"}]}}}"#, "custom[0].name"),
        (r#"{"profiles": {"p": {}}, "max_body_bytes": 2000000}"#, "max_body_bytes"),
        (r#"{"profiles": {"p": {}}, "compresed": "pass"}"#, "unknown field `compresed`"),
        (r#"{"profiles": {"p": {"default_strategy": {"partial": {"keep": 4}}}}}"#, "unknown field `keep`"),
    ] {
        let error = refused(json);
        assert!(error.contains(expected), "{json}: {error}");
    }
}

#[test]
fn a_good_configuration_loads() {
    let config: MaskConfig = serde_json::from_str(
        r#"{"profiles": {"pii": {"detectors": ["email", "phone"], "strategies": {"email": "hash"},
             "paths": [{"path": "$..ssn", "type": "us_ssn"}]}},
            "hash_key": "0123456789abcdef", "routes": [{"prefix": "/api", "response": "pii"}]}"#,
    )
    .unwrap();
    assert!(Masker::compile(config).is_ok());
}
