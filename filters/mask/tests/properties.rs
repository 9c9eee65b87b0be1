//! Properties of masking: JSON in gives valid JSON of the same shape out; masking twice
//! changes nothing more (mask(mask(x)) == mask(x)); no detected value survives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::Value;
use warden_mask::config::{compile_profile, hash_key, ProfileConfig};
use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::{Profile, Report};

const SECRETS: &[&str] = &[
    "ada@example.com",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "123-45-6789",
    "+44 20 7946 0958",
    "203.0.113.7",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
    "password=hunter22",
];

fn profiles() -> Vec<Profile> {
    let key = hash_key(Some("0123456789abcdef0123")).unwrap();
    let config = |json: &str| serde_json::from_str::<ProfileConfig>(json).unwrap();
    vec![
        compile_profile("placeholders", &config(r#"{"paths": [{"path": "$..ssn", "type": "us_ssn"}]}"#), key.as_ref()).unwrap(),
        compile_profile(
            "mixed",
            &config(r#"{"strategies": {"email": "hash", "payment_card": {"partial": {"keep_last": 4}}, "iban": {"fixed": "****"}},
                        "default_strategy": {"partial": {"keep_last": 2}}}"#),
            key.as_ref(),
        )
        .unwrap(),
    ]
}

/// Text mixing plain words, sensitive values and JSON-unfriendly characters.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-z ]{0,12}",
        2 => prop::sample::select(SECRETS).prop_map(String::from),
        1 => prop::sample::select(vec!["\"", "\\", "\n", "é", "\u{1F600}", ":", "="]).prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.join(" "))
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(vec!["ssn", "note", "email", "a b", "x"]), inner), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn mask(profile: &Profile, format: Format, body: &[u8]) -> Vec<u8> {
    mask_body(profile, format, body, &mut Report::default()).unwrap_or_else(|| body.to_vec())
}

/// The shape of a JSON value: types and keys, not the strings' contents.
fn shape(value: &Value) -> Value {
    match value {
        Value::String(_) => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn json_in_gives_json_of_the_same_shape_out(value in json(), pretty in any::<bool>()) {
        let body = if pretty { serde_json::to_vec_pretty(&value).unwrap() } else { serde_json::to_vec(&value).unwrap() };
        for profile in profiles() {
            let mut report = Report::default();
            let out = mask_body(&profile, Format::Json, &body, &mut report).unwrap_or_else(|| body.clone());
            let parsed: Value = serde_json::from_slice(&out).expect("valid JSON out");
            // `..ssn` replaces whole values with strings: compare shapes with those as strings.
            let expected = replace_ssn(shape(&value));
            prop_assert_eq!(replace_ssn(shape(&parsed)), expected);
            prop_assert!(report.notes.is_empty(), "valid JSON is never scanned as text");
        }
    }

    #[test]
    fn masking_is_idempotent(value in json(), line in text()) {
        let body = serde_json::to_vec(&value).unwrap();
        for profile in profiles() {
            let once = mask(&profile, Format::Json, &body);
            prop_assert_eq!(&mask(&profile, Format::Json, &once), &once);
            let once = mask(&profile, Format::Text, line.as_bytes());
            prop_assert_eq!(&mask(&profile, Format::Text, &once), &once);
        }
    }

    #[test]
    fn no_detected_value_survives(line in text()) {
        for profile in profiles() {
            let out = String::from_utf8(mask(&profile, Format::Text, line.as_bytes())).unwrap();
            for secret in SECRETS {
                prop_assert!(!out.contains(secret), "{} survived in {}", secret, out);
            }
        }
    }
}

fn replace_ssn(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(replace_ssn).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| if k == "ssn" { (k, Value::String(String::new())) } else { (k, replace_ssn(v)) })
                .collect(),
        ),
        other => other,
    }
}

/// An event stream of JSON and text events, with LF or CRLF line endings.
fn event_stream() -> impl Strategy<Value = String> {
    let event = (text(), any::<bool>(), any::<bool>()).prop_map(|(content, as_json, crlf)| {
        let end = if crlf { "\r\n" } else { "\n" };
        let data = if as_json {
            serde_json::json!({"delta": content}).to_string()
        } else {
            content.replace(['\n', '\r'], " ")
        };
        format!("event: delta{end}data: {data}{end}{end}")
    });
    prop::collection::vec(event, 0..6).prop_map(|events| events.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_stream_split_anywhere_masks_to_the_same_bytes(body in event_stream(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        use warden_mask::stream::LineStream;
        let bytes = body.as_bytes();
        for profile in profiles() {
            let whole = mask(&profile, Format::EventStream, bytes);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut stream = LineStream::new(Format::EventStream, 64 * 1024);
            let mut out = Vec::new();
            let mut from = 0;
            for &to in points.iter().chain(std::iter::once(&bytes.len())) {
                let end = to == bytes.len() && from <= to;
                out.extend(stream.push(&[&profile], &bytes[from..to.max(from)], end, &mut Report::default()).unwrap());
                from = to.max(from);
            }
            prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&whole));
        }
    }
}

#[test]
fn a_line_longer_than_the_carry_over_bound_fails_closed() {
    use warden_mask::stream::{LineStream, LineTooLong};
    let profile = &profiles()[0];
    let mut stream = LineStream::new(Format::EventStream, 16);
    assert_eq!(stream.push(&[profile], b"data: short\n", false, &mut Report::default()), Ok(b"data: short\n".to_vec()));
    assert_eq!(
        stream.push(&[profile], b"data: a line that never ends", false, &mut Report::default()),
        Err(LineTooLong)
    );
}

/// Text shaped like the values the validators judge, and their near misses: digits in groups,
/// country codes, colons and hex digits, dots, dashes, JWT-like segments.
fn value_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[0-9]{1,6}",
        "[ -]",
        "(DE|GB|FR|ZZ|de)[0-9]{2}",
        "[A-Z0-9]{4}",
        "[0-9a-f]{1,4}",
        ":{1,3}",
        "\\.",
        "@",
        "eyJhbGciOiJIUzI1NiJ9\\.",
        "x|ext",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}",
        "([0-9a-f]{1,4}:){6}",
    ];
    prop::collection::vec(piece, 1..12).prop_map(|pieces| pieces.concat().into_bytes())
}

const VALIDATORS: &[warden_mask::validators::Validator] = {
    use warden_mask::validators::Validator::*;
    &[Luhn, Iban, Ssn, Ipv4, Ipv6, Jwt, Phone, Email]
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// The scanner tries shorter matches of a failed one only up to `shorter_limit`: no longer
    /// prefix may pass, or skipping it would lose a value.
    #[test]
    fn no_prefix_beyond_the_shorter_limit_passes(text in value_like()) {
        for &validator in VALIDATORS {
            if validator.check(&text) {
                continue;
            }
            let limit = validator.shorter_limit(&text);
            for len in limit + 1..text.len() {
                prop_assert!(!validator.check(&text[..len]),
                    "{validator:?}: {:?} passes, beyond the limit {limit} of {:?}",
                    String::from_utf8_lossy(&text[..len]), String::from_utf8_lossy(&text));
            }
        }
    }
}
