//! The built-in detectors: a pattern (ASCII, matched on bytes), an optional validator, and
//! which part of a match is the sensitive value. Names and free-text postal addresses are not
//! detected: they need named-entity recognition, which is out of scope.

use crate::validators::Validator;

/// Which part of a match is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// All of it.
    Whole,
    /// What follows the key and its separator (`password=hunter2` → `hunter2`;
    /// `Bearer abc` → `abc`).
    AfterKey,
}

/// A built-in detector.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// Name used in configuration, facts and placeholders (`[EMAIL]`).
    pub name: &'static str,
    /// Pattern (regex syntax, ASCII; `\b` is an ASCII word boundary).
    pub pattern: &'static str,
    /// Check a match must pass.
    pub validator: Option<Validator>,
    /// Part of the match that is masked.
    pub part: Part,
}

const fn builtin(name: &'static str, pattern: &'static str, validator: Option<Validator>) -> Builtin {
    Builtin { name, pattern, validator, part: Part::Whole }
}

/// Every built-in detector, most specific first (at one position the first that matches and
/// validates wins).
pub const BUILTINS: &[Builtin] = &[
    builtin("private_key", r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", None),
    builtin("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", Some(Validator::Jwt)),
    builtin("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", None),
    builtin("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})\b", None),
    builtin("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}", None),
    builtin("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", None),
    builtin("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b", None),
    builtin("anthropic_key", r"\bsk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_-]{20,}", None),
    builtin("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", None),
    builtin("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", None),
    Builtin {
        name: "aws_secret_access_key",
        pattern: r#"(?i:\baws_?secret_?access_?key|\baws_?secret)["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}"#,
        validator: None,
        part: Part::AfterKey,
    },
    Builtin {
        name: "bearer_token",
        pattern: r"(?i:\bbearer)[ \t]+[A-Za-z0-9._~+/-]{8,}=*",
        validator: None,
        part: Part::AfterKey,
    },
    Builtin {
        name: "secret",
        pattern: r#"(?i:\b(?:password|passwd|pwd|secret|client_secret|api_?key|access_?token|auth_?token|private_?key))["']?\s*[:=]\s*["']?[^\s"'&,;]{3,}"#,
        validator: None,
        part: Part::AfterKey,
    },
    builtin(
        "email",
        r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
        Some(Validator::Email),
    ),
    builtin("iban", r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", Some(Validator::Iban)),
    // Contiguous digits, or the usual groupings (4-4-4-x with spaces or dashes; Amex 4-6-5):
    // arbitrary digit runs with separators are dates, ids and order numbers.
    builtin(
        "payment_card",
        r"\b(?:[0-9]{13,19}|[0-9]{4}(?: [0-9]{4}){2} [0-9]{1,7}|[0-9]{4}(?:-[0-9]{4}){2}-[0-9]{1,7}|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})\b",
        Some(Validator::Luhn),
    ),
    builtin("us_ssn", r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", Some(Validator::Ssn)),
    builtin("ipv6", r"(?:\b[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}\b", Some(Validator::Ipv6)),
    builtin("ipv4", r"\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b", Some(Validator::Ipv4)),
    // International (`+44 (0)20 7946 0958`, `+1-555-123-4567`), NANP (`(415) 555-0132`,
    // `415.555.0132`, `001-415-555-0132`) and trunk-prefixed national numbers
    // (`0113 496 0193`, `(0114) 496 0496`), each with an optional extension. A bare run of
    // digits is not a phone number here: ids and timestamps look the same.
    builtin(
        "phone",
        concat!(
            r"(?:\+[1-9][0-9]{0,3}[ .-]?(?:\(0\)[ .-]?)?\(?[0-9]{1,4}\)?(?:[ .-]?[0-9]{2,4}){1,4}",
            r"|(?:\b001[ .-]|\b1[ .-])?(?:\([2-9][0-9]{2}\)[ .-]?|\b[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}",
            r"|(?:\(0[0-9]{2,4}\)|\b0[0-9]{2,4}) [0-9]{3,4}(?: ?[0-9]{3,4})?)",
            r"(?: ?(?:x|ext\.?) ?[0-9]{1,6})?\b"
        ),
        Some(Validator::Phone),
    ),
];

/// The built-in detector named `name`, with its priority (its index in [`BUILTINS`]).
// Not inlined: the search unrolls into one comparison per detector, and LLVM's constraint
// elimination spent minutes on every function it was inlined into (see `config.rs`).
#[inline(never)]
pub fn find(name: &str) -> Option<(usize, &'static Builtin)> {
    BUILTINS.iter().enumerate().find(|(_, b)| b.name == name)
}

/// Where the value starts in a key-value or bearer match: after the separator and any quote
/// or spaces.
pub fn value_start(matched: &[u8]) -> usize {
    let separator = matched.iter().position(|&b| b == b':' || b == b'=');
    let mut i = match separator {
        Some(i) => i + 1,
        // `Bearer <token>`: after the first run of spaces.
        None => matched.iter().position(|b| b.is_ascii_whitespace()).unwrap_or(0),
    };
    while i < matched.len() && (matched[i].is_ascii_whitespace() || matched[i] == b'"' || matched[i] == b'\'') {
        i += 1;
    }
    i
}
