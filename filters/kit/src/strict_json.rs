//! JSON read the way no upstream parser can read differently: a body whose objects repeat a
//! member (at any depth) is refused, as I-JSON (RFC 7493 §2.3) requires, because parsers
//! disagree on which copy wins (serde_json and most JavaScript engines take the last; others
//! take the first or fail). A rule that read one copy would decide on a value the upstream
//! never sees.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a body is not strict JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    /// Not JSON at all (or trailing bytes, or nested too deep).
    #[error("not valid JSON")]
    Invalid,
    /// An object names one member twice.
    #[error("an object repeats a member")]
    DuplicateMember,
}

const DUPLICATE: &str = "duplicate member";

/// Parses `bytes` as one JSON value with unique members in every object.
pub fn from_slice(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut deserializer).map_err(|e| classify(&e))?;
    deserializer.end().map_err(|_| StrictJsonError::Invalid)?;
    Ok(value)
}

fn classify(error: &serde_json::Error) -> StrictJsonError {
    if error.to_string().starts_with(DUPLICATE) {
        StrictJsonError::DuplicateMember
    } else {
        StrictJsonError::Invalid
    }
}

/// Builds a [`Value`], refusing a repeated member.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(A::Error::custom(DUPLICATE));
            }
            let value = access.next_value_seed(StrictValue)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_members_parse_as_serde_json_does() {
        let text = br#"{"a": [1, 2.5, {"b": null}], "c": "d", "e": true, "big": 18446744073709551615}"#;
        assert_eq!(from_slice(text).unwrap(), serde_json::from_slice::<Value>(text).unwrap());
    }

    #[test]
    fn a_repeated_member_at_any_depth_is_refused() {
        assert_eq!(from_slice(br#"{"q": "SELECT 1", "q": "DROP TABLE t"}"#), Err(StrictJsonError::DuplicateMember));
        assert_eq!(
            from_slice(br#"{"params": {"name": "read", "name": "delete"}}"#),
            Err(StrictJsonError::DuplicateMember)
        );
        assert_eq!(from_slice(br#"[{"x": 1}, {"x": 1, "x": 2}]"#), Err(StrictJsonError::DuplicateMember));
        // Escapes spell the same member differently: still the same member.
        assert_eq!(from_slice(br#"{"q": 1, "\u0071": 2}"#), Err(StrictJsonError::DuplicateMember));
    }

    #[test]
    fn trailing_bytes_and_garbage_are_not_json() {
        assert_eq!(from_slice(br#"{"a": 1} x"#), Err(StrictJsonError::Invalid));
        assert_eq!(from_slice(b"\xef\xbb\xbf{}"), Err(StrictJsonError::Invalid));
        assert_eq!(from_slice(b""), Err(StrictJsonError::Invalid));
    }
}
