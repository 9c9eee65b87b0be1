//! Canonical JSON (RFC 8785, the JSON Canonicalization Scheme): one byte sequence per value,
//! whatever the platform, build or key order. What Warden hashes is always these bytes.

use serde::Serialize;

/// The RFC 8785 canonical JSON of `value`: object members sorted by their UTF-16 code units,
/// no insignificant whitespace, numbers in their shortest ECMAScript form. Fails only for
/// values JSON cannot hold (non-finite floats, maps with non-string keys).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_jcs::to_vec(value).map_err(|err| CanonicalError(err.to_string()))
}

/// A value that has no canonical JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no canonical JSON form: {0}")]
pub struct CanonicalError(String);

#[cfg(test)]
mod tests {
    use super::to_vec;
    use serde_json::json;

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
