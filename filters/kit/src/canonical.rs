//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): one byte sequence per value,
//! whatever the platform, build or key order. What Warden hashes is always these bytes.

use serde::Serialize;
use serde_json::Value;

/// The RFC 8785 canonical JSON of `value`: object members sorted by their UTF-16 code units,
/// no insignificant whitespace, numbers in their shortest ECMAScript form. Fails only for
/// values JSON cannot hold (non-finite floats, maps with non-string keys).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|err| CanonicalError(err.to_string()))?;
    from_value(&value)
}

/// [`to_vec`] of a JSON value. Values with no floats, no integer beyond 2^53 and only ASCII
/// object keys already in ascending order (serde_json's maps are sorted) are written by
/// serde_json directly: for them its output is the canonical form (same escapes, same key
/// order, integers as digits), and it is several times faster. Anything else goes through the
/// general RFC 8785 writer.
pub fn from_value(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    if is_plain(value) {
        serde_json::to_vec(value).map_err(|err| CanonicalError(err.to_string()))
    } else {
        serde_jcs::to_vec(value).map_err(|err| CanonicalError(err.to_string()))
    }
}

/// Largest integer written as plain digits by both writers (2^53).
pub const EXACT_INTEGER: u64 = 1 << 53;

/// Whether serde_json's own output of `value` is its canonical form: no floats, no integer
/// beyond 2^53 and only ASCII object keys (serde_json's maps iterate sorted). A writer that
/// embeds values in canonical output checks this first.
pub fn is_plain(value: &Value) -> bool {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u <= EXACT_INTEGER,
            (None, Some(i)) => i.unsigned_abs() <= EXACT_INTEGER,
            _ => false,
        },
        Value::Array(items) => items.iter().all(is_plain),
        Value::Object(map) => {
            let mut previous: Option<&str> = None;
            map.iter().all(|(key, v)| {
                let ordered = key.is_ascii() && previous.is_none_or(|p| p < key.as_str());
                previous = Some(key);
                ordered && is_plain(v)
            })
        }
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// A value that has no canonical JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no canonical JSON form: {0}")]
pub struct CanonicalError(String);

impl CanonicalError {
    /// An error saying why.
    pub fn new(why: impl Into<String>) -> Self {
        CanonicalError(why.into())
    }
}

#[cfg(test)]
mod tests {
    use super::{from_value, to_vec};
    use serde_json::{json, Value};

    #[test]
    fn the_fast_path_writes_what_the_general_writer_writes() {
        let values = [
            json!({"z": 1, "a": [true, null, "x\u{1}\n\t\"\\/\u{7f}é😀"], "m": {"b": -9007199254740992i64, "a": 9007199254740992u64}}),
            json!({"é": 1, "e": 2, "😀": 3, "\u{ffff}": 4}),
            json!({"big": 18446744073709551615u64, "f": 1.5, "g": 1e30}),
            json!([{"k": ""}, [], {}]),
        ];
        for value in values {
            assert_eq!(from_value(&value).unwrap(), serde_jcs::to_vec(&value).unwrap(), "{value}");
        }
        // Maps iterate in key order (no `preserve_order` feature crept in): else every
        // value would take the slow path (still correct, but the fast path would be dead).
        let map: Value = serde_json::from_str(r#"{"b": 1, "a": 2}"#).unwrap();
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"a":2,"b":1}"#);
    }

    #[test]
    fn members_are_sorted_and_whitespace_dropped() {
        let value: serde_json::Value = serde_json::from_str(r#"{ "b": [1, 2], "a": {"d": true, "c": null} }"#).unwrap();
        assert_eq!(to_vec(&value).unwrap(), br#"{"a":{"c":null,"d":true},"b":[1,2]}"#);
    }

    #[test]
    fn rfc_8785_example_canonicalizes_as_published() {
        // RFC 8785 section 3.2.2 input (numbers, escapes, non-ASCII), and its section 3.2.3 output.
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let value: serde_json::Value = serde_json::from_str(input).unwrap();
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(String::from_utf8(to_vec(&value).unwrap()).unwrap(), expected);
    }

    #[test]
    fn members_sort_by_utf16_code_units() {
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16, so it sorts before U+FF61
        // although its UTF-8 bytes (F0 ..) sort after U+FF61's (EF ..).
        let value = json!({"\u{ff61}": 1, "\u{1f600}": 2, "\r": 3, "1": 4});
        let text = String::from_utf8(to_vec(&value).unwrap()).unwrap();
        assert_eq!(text, "{\"\\r\":3,\"1\":4,\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }
}
