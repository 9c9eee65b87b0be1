//! Each built-in detector on values it must find and near misses it must leave alone, in text
//! and in JSON; strategies, path rules and the formats a body can come in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_mask::config::{compile_profile, hash_key, ProfileConfig};
use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::{Profile, Report};

fn profile(yaml: &str) -> Profile {
    // As Envoy passes it: JSON (YAML is only the notation of these tests).
    let json: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let config: ProfileConfig = serde_json::from_value(json).unwrap();
    let key = hash_key(Some("0123456789abcdef0123")).unwrap();
    compile_profile("test", &config, key.as_ref()).unwrap()
}

fn default_profile() -> Profile {
    profile("{}")
}

/// The text after masking and what was found.
fn mask(profile: &Profile, format: Format, text: &str) -> (String, Report) {
    let mut report = Report::default();
    let out = mask_body(profile, format, text.as_bytes(), &mut report);
    (String::from_utf8(out.unwrap_or_else(|| text.as_bytes().to_vec())).unwrap(), report)
}

#[test]
fn every_builtin_finds_its_values() {
    let p = default_profile();
    let cases = [
        ("mail alice.smith+tag@mail.example.co.uk now", "email"),
        ("call +44 20 7946 0958 today", "phone"),
        ("call (415) 555-0132 today", "phone"),
        ("card 4111 1111 1111 1111 exp", "payment_card"),
        ("amex 378282246310005.", "payment_card"),
        ("iban DE89 3704 0044 0532 0130 00 ok", "iban"),
        ("ssn 123-45-6789 on file", "us_ssn"),
        ("from 203.0.113.7 port", "ipv4"),
        ("from 2001:db8:85a3::8a2e:370:7334 port", "ipv6"),
        ("token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x", "jwt"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----", "private_key"),
        ("key AKIAIOSFODNN7EXAMPLE used", "aws_access_key_id"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key"),
        ("gh ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij done", "github_token"),
        ("gl glpat-abcdefghij0123456789 done", "gitlab_token"),
        ("slack xoxb-123456789012-abcdefABCDEF done", "slack_token"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc done", "stripe_key"),
        ("openai sk-proj-abcdefghijklmnopqrstuvwxyz123456 done", "openai_key"),
        ("claude sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 done", "anthropic_key"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv done", "google_api_key"),
        ("Authorization: Bearer abc.def-ghi_jkl~mno", "bearer_token"),
        ("db password=hunter2x and more", "secret"),
    ];
    for (text, kind) in cases {
        let (masked, report) = mask(&p, Format::Text, text);
        assert_eq!(report.counts.get(kind), Some(&1), "{kind} in {text:?}: {masked} ({:?})", report.counts);
        assert!(masked.contains(&format!("[{}]", kind.to_ascii_uppercase())), "{masked}");
    }
}

#[test]
fn near_misses_are_left_alone() {
    let p = default_profile();
    for text in [
        "order 4111 1111 1111 1112 shipped",       // 16 digits failing Luhn
        "id 1234567812345670",                     // passes Luhn, no issuer
        "iban DE89 3704 0044 0532 0130 01",        // wrong checksum
        "ssn 666-12-3456 and 123-00-4567",         // never-issued ranges
        "version 1.2.3.4000 and 300.1.1.1",        // not IPv4
        "time 12:30:45",                           // not IPv6
        "user@localhost and alice@example",        // no top-level domain
        "eyJub3QiOiJqd3QifQ.eyJzdWIiOiJ4In0.c2ln", // no alg
        "the sk-short key",
        "password: ab", // too short to be a secret
    ] {
        let (masked, report) = mask(&p, Format::Text, text);
        assert_eq!(report.total(), 0, "{text:?} became {masked:?} ({:?})", report.counts);
    }
}

#[test]
fn key_value_secrets_keep_their_key() {
    let (masked, _) = mask(&default_profile(), Format::Text, "password: \"hunter22\" and Bearer abcdefgh1234");
    assert_eq!(masked, "password: \"[SECRET]\" and Bearer [BEARER_TOKEN]");
}

#[test]
fn json_keeps_its_structure_and_reports_paths() {
    let p = profile(
        r#"
paths:
  - {path: "$.users[*].ssn", type: us_ssn}
  - {path: "$..password", type: secret}
strategies: {email: hash, payment_card: {partial: {keep_last: 4}}}
"#,
    );
    let body = r#"{"users": [{"name": "Al", "ssn": 123456789, "email": "al@example.com", "card": "4111-1111-1111-1111"},
 {"name": "Bo", "ssn": "987-65-4321", "auth": {"password": {"old": "x", "new": "y"}}}], "n": 2}"#;
    let (masked, report) = mask(&p, Format::Json, body);
    let value: serde_json::Value = serde_json::from_str(&masked).unwrap();
    assert_eq!(value["users"][0]["ssn"], "[US_SSN]");
    assert_eq!(value["users"][1]["ssn"], "[US_SSN]");
    assert_eq!(value["users"][1]["auth"]["password"], "[SECRET]", "an object under a path rule is replaced whole");
    assert_eq!(value["users"][0]["card"], "****-****-****-1111");
    assert!(value["users"][0]["email"].as_str().unwrap().starts_with("[EMAIL:"));
    assert_eq!((value["n"].clone(), value["users"][0]["name"].clone()), (2.into(), "Al".into()));
    assert!(masked.starts_with("{\"users\": [{\"name\": \"Al\", \"ssn\": "), "spacing and order kept: {masked}");
    assert_eq!(report.counts.get("us_ssn"), Some(&2));
    assert!(report.paths.contains(&"$.users[0].email".to_string()), "{:?}", report.paths);
    assert!(report.paths.contains(&"$.users[1].auth.password".to_string()), "{:?}", report.paths);
}

#[test]
fn escaped_json_strings_are_decoded_before_scanning() {
    let (masked, report) = mask(&default_profile(), Format::Json, r#"{"note": "mail\u0020bob@example.com\nthanks"}"#);
    assert_eq!(report.counts.get("email"), Some(&1));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&masked).unwrap()["note"], "mail [EMAIL]\nthanks");
}

#[test]
fn json_that_does_not_parse_is_scanned_as_text_and_says_so() {
    let (masked, report) = mask(&default_profile(), Format::Json, r#"{"email": "bob@example.com", oops}"#);
    assert_eq!(masked, r#"{"email": "[EMAIL]", oops}"#);
    assert_eq!(report.notes, vec!["json_unparseable_scanned_as_text".to_string()]);
}

#[test]
fn event_streams_ndjson_and_forms_are_masked_in_place() {
    let p = default_profile();
    let sse = "event: message\ndata: {\"delta\": \"reach me at bob@example.com\"}\n\ndata: plain 4111111111111111\n\n";
    let (masked, report) = mask(&p, Format::EventStream, sse);
    assert_eq!(masked, "event: message\ndata: {\"delta\": \"reach me at [EMAIL]\"}\n\ndata: plain [PAYMENT_CARD]\n\n");
    assert_eq!(report.total(), 2);
    let (masked, _) = mask(&p, Format::Ndjson, "{\"a\":\"bob@example.com\"}\r\n{\"b\":1}\n");
    assert_eq!(masked, "{\"a\":\"[EMAIL]\"}\r\n{\"b\":1}\n");
    let (masked, _) = mask(&p, Format::Form, "to=bob%40example.com&msg=hi+there");
    assert_eq!(masked, "to=%5BEMAIL%5D&msg=hi+there");
}

#[test]
fn custom_detectors_need_their_context_words() {
    let p = profile(
        r#"
detectors: [email]
custom:
  - {name: employee_id, pattern: "\\bE[0-9]{6}\\b", context: [employee, staff], context_window: 20}
"#,
    );
    let (masked, report) =
        mask(&p, Format::Text, "staff number E123456; part E654321 in stock, far from any such word");
    assert_eq!(masked, "staff number [EMPLOYEE_ID]; part E654321 in stock, far from any such word");
    assert_eq!(report.counts.get("employee_id"), Some(&1));
}

#[test]
fn invalid_utf8_is_scanned_as_bytes() {
    let p = default_profile();
    let mut report = Report::default();
    let body = b"\xff\xfe mail bob@example.com \xc3";
    let out = mask_body(&p, Format::Text, body, &mut report).unwrap();
    assert_eq!(out, b"\xff\xfe mail [EMAIL] \xc3");
}

#[test]
fn values_next_to_each_other_are_each_found() {
    // Found by the property tests: the phone number must not swallow the SSN's first digits,
    // and a card-shaped run failing Luhn must not hide the real card that overlaps it.
    let (masked, report) = mask(&default_profile(), Format::Text, "+44 20 7946 0958 123-45-6789 4111 1111 1111 1111");
    assert_eq!(masked, "[PHONE] [US_SSN] [PAYMENT_CARD]", "{:?}", report.counts);
}
