//! How a found value is replaced. Every strategy's output is something no built-in detector
//! finds again, so masking is idempotent: mask(mask(x)) == mask(x).

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// A masking strategy (configuration and compiled form are the same).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// `[EMAIL]`: the detector's name in capitals (the default).
    #[default]
    Placeholder,
    /// Keep the last `keep_last` letters or digits, replace the others with `*`
    /// (`************1111`); punctuation and spaces stay.
    Partial {
        /// Letters or digits kept at the end.
        keep_last: usize,
    },
    /// `[EMAIL:3f9a0c1b2d4e5f60]`: HMAC-SHA256 of the value under the configured `hash_key`
    /// (first 8 bytes, hex). Stable across requests and VMs, so masked data still joins.
    Hash,
    /// A fixed text, e.g. `****`.
    Fixed(String),
}

/// The key of `hash` tokens.
pub type HashKey = Hmac<Sha256>;

impl Strategy {
    /// The replacement of `value` found by detector `kind`. `key` is set whenever a profile uses
    /// `hash` (checked at load).
    pub fn apply(&self, kind: &str, value: &[u8], key: Option<&HashKey>) -> Vec<u8> {
        match self {
            Strategy::Placeholder => format!("[{}]", kind.to_ascii_uppercase()).into_bytes(),
            Strategy::Fixed(text) => text.clone().into_bytes(),
            Strategy::Partial { keep_last } => {
                let secret = |b: &u8| b.is_ascii_alphanumeric() || !b.is_ascii();
                let total = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
                let mut seen = 0;
                value
                    .iter()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() {
                            seen += 1;
                        }
                        if secret(b) && !(b.is_ascii_alphanumeric() && seen > total.saturating_sub(*keep_last)) {
                            b'*'
                        } else {
                            *b
                        }
                    })
                    .collect()
            }
            Strategy::Hash => {
                let digest = match key {
                    Some(key) => {
                        let mut mac = key.clone();
                        mac.update(kind.as_bytes());
                        mac.update(&[0]);
                        mac.update(value);
                        mac.finalize().into_bytes()
                    }
                    None => return format!("[{}]", kind.to_ascii_uppercase()).into_bytes(),
                };
                let hex = warden_kit::hex::encode(&digest[..8]);
                format!("[{}:{hex}]", kind.to_ascii_uppercase()).into_bytes()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_replace_values_as_configured() {
        let key = HashKey::new_from_slice(b"0123456789abcdef").unwrap();
        assert_eq!(Strategy::Placeholder.apply("email", b"a@b.io", None), b"[EMAIL]");
        assert_eq!(
            Strategy::Partial { keep_last: 4 }.apply("payment_card", b"4111 1111 1111 1111", None),
            b"**** **** **** 1111"
        );
        assert_eq!(Strategy::Fixed("****".into()).apply("x", b"secret", None), b"****");
        let token = Strategy::Hash.apply("email", b"a@b.io", Some(&key));
        assert_eq!(token, Strategy::Hash.apply("email", b"a@b.io", Some(&key)), "stable");
        assert_ne!(token, Strategy::Hash.apply("email", b"c@b.io", Some(&key)));
        assert!(token.starts_with(b"[EMAIL:") && token.len() == "[EMAIL:]".len() + 16);
    }

    #[test]
    fn partial_masking_hides_non_ascii_letters_too() {
        // `ö` is two bytes: both become `*`; the output stays valid UTF-8.
        assert_eq!(Strategy::Partial { keep_last: 2 }.apply("x", "jö-42".as_bytes(), None), b"***-42");
    }
}
