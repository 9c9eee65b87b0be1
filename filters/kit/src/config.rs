//! Plugin configuration parsing with errors that name the field.

use crate::ConfigError;
use serde::de::DeserializeOwned;

/// Parses JSON plugin configuration into `T`. An empty configuration is `{}`. Errors name the
/// field path (e.g. `stages[0].config.allowed_methods[2]`) and never echo values.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { bytes };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("not valid JSON (line {}, column {})", inner.line(), inner.column())
        } else {
            redact(&inner.to_string())
        };
        ConfigError::new(if field == "." { String::new() } else { field }, message)
    })?;
    // One JSON value and nothing after it: `{...} x` is not the object it starts with.
    deserializer.end().map_err(|err| {
        ConfigError::new("", format!("bytes after the JSON value (line {}, column {})", err.line(), err.column()))
    })?;
    Ok(value)
}

/// serde's data errors quote the offending value (`invalid type: string "...", expected
/// u32`); a value may be a secret, so keep only its kind and the expectation.
fn redact(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = rest.split([' ', ',']).next().unwrap_or("value");
            let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("something else");
            return format!("{}({kind}), expected {expected}", prefix.trim_end_matches(": ").to_string() + " ");
        }
    }
    message.to_string()
}

/// JSON Schema of stage `S`'s configuration type (feature `schema`, native only).
#[cfg(feature = "schema")]
pub fn config_schema<S: crate::StageKind>() -> schemars::Schema
where
    S::Config: schemars::JsonSchema,
{
    schemars::schema_for!(S::Config)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        limit: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn wrong_type_names_the_nested_field() {
        let err = parse::<Outer>(br#"{"items":[{"limit":1},{"limit":"x"}]}"#).unwrap_err();
        assert_eq!(err.field, "items[1].limit");
    }

    #[test]
    fn bytes_after_the_value_are_refused() {
        let err = parse::<Outer>(br#"{"items":[]} x"#).unwrap_err();
        assert!(err.message.contains("bytes after the JSON value"), "{err}");
        assert!(parse::<Outer>(b"{\"items\":[]} \n").is_ok(), "trailing whitespace is not a value");
        assert!(parse::<Outer>(br#"{"items":[]}{"items":[]}"#).is_err());
    }

    #[test]
    fn wrong_value_is_not_echoed() {
        let err = parse::<Outer>(br#"{"items":[{"limit":"sk-live-123"}]}"#).unwrap_err();
        assert!(!err.to_string().contains("sk-live-123"), "{err}");
        assert!(err.message.contains("expected u32"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = parse::<Outer>(br#"{"itemz":[]}"#).unwrap_err();
        assert!(err.message.contains("unknown field `itemz`"), "{err}");
    }

    #[test]
    fn syntax_error_does_not_echo_the_input() {
        let err = parse::<Outer>(b"{\"items\": \"secret-token-abc").unwrap_err();
        assert!(!err.to_string().contains("secret-token-abc"));
    }

    #[test]
    fn empty_configuration_means_defaults() {
        assert!(parse::<Outer>(b"").is_ok());
    }
}
