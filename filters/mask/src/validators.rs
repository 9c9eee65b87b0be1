//! Checks that turn a pattern match into a finding: checksums, issuer ranges, number ranges
//! and structure. Each takes the matched bytes and says whether they are the real thing.

use base64::Engine;
use serde::Deserialize;

/// A validator built in; custom detectors may name one.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// Payment card: 13–19 digits, Luhn checksum, a known issuer range.
    Luhn,
    /// IBAN: known country, its length, ISO 7064 mod-97 = 1.
    Iban,
    /// US SSN: no area 000, 666 or 900–999, no group 00, no serial 0000.
    Ssn,
    /// IPv4 address: four octets ≤ 255.
    Ipv4,
    /// IPv6 address as `std` parses it.
    Ipv6,
    /// JWT: the first segment is base64url JSON with `alg`.
    Jwt,
    /// Phone number: 7–15 digits (E.164 length).
    Phone,
    /// Email address: local part without leading, trailing or doubled dots.
    Email,
}

impl Validator {
    /// After `text` failed [`Validator::check`]: the longest prefix of it (a shorter match at
    /// the same start) that could still pass; 0 when none can. A JWT is judged by its header
    /// alone, an IBAN must have its country's length, a card at least 13 digits, an SSN 9, a
    /// phone number 7, and an IPv6 address has no `:::` and one `::` at most. The scanner
    /// tries shorter matches only up to this length.
    pub fn shorter_limit(self, text: &[u8]) -> usize {
        let digit_count = || text.iter().filter(|b| b.is_ascii_digit()).count();
        let shorter = text.len().saturating_sub(1);
        let unless = |impossible: bool| if impossible { 0 } else { shorter };
        match self {
            Validator::Jwt => 0,
            // At most 19 digits: before the 20th.
            Validator::Luhn => unless(digit_count() <= 13).min(before_nth(text, 20, |b| b.is_ascii_digit())),
            Validator::Ssn => unless(digit_count() <= 9),
            Validator::Phone => unless(digit_count() <= 7),
            // Exactly the country's length: before the character after it.
            Validator::Iban => {
                let mut compact = text.iter().copied().filter(|b| !b.is_ascii_whitespace());
                let country = [compact.next().unwrap_or(0), compact.next().unwrap_or(0)];
                match iban_length(&country) {
                    Some(wanted) if compact.count() + 2 > wanted => {
                        shorter.min(before_nth(text, wanted + 1, |b| !b.is_ascii_whitespace()))
                    }
                    _ => 0,
                }
            }
            Validator::Ipv6 => {
                // A prefix passing does not start with a lone `:`; without `::` (and without an
                // IPv4 tail, `1:2:3:4:5:6:1.2.3.4`) it has exactly 7 colons; it holds no
                // `:::`, nor a second `::`.
                let has_double = text.windows(2).any(|w| w == b"::");
                let colons = text.iter().filter(|&&b| b == b':').count();
                let too_few_groups = !has_double && !text.contains(&b'.') && colons < 7;
                if (text.starts_with(b":") && !text.starts_with(b"::")) || too_few_groups {
                    return 0;
                }
                let triple = text.windows(3).position(|w| w == b":::").map(|at| at + 2);
                let mut doubles = text.windows(2).enumerate().filter(|(_, w)| *w == b"::").map(|(at, _)| at);
                let second = doubles.next().and_then(|first| doubles.find(|&at| at > first + 1)).map(|at| at + 1);
                [triple, second].into_iter().flatten().fold(shorter, usize::min)
            }
            Validator::Ipv4 | Validator::Email => shorter,
        }
    }

    /// Whether this is a checksum (Luhn, mod-97): a failing match is a near miss as a whole.
    pub fn is_checksum(self) -> bool {
        matches!(self, Validator::Luhn | Validator::Iban)
    }

    /// Whether `text` passes.
    pub fn check(self, text: &[u8]) -> bool {
        match self {
            Validator::Luhn => card(text),
            Validator::Iban => iban(text),
            Validator::Ssn => ssn(text),
            Validator::Ipv4 => std::str::from_utf8(text).is_ok_and(|t| t.parse::<std::net::Ipv4Addr>().is_ok()),
            Validator::Ipv6 => ipv6(text),
            Validator::Jwt => jwt(text),
            Validator::Phone => {
                // The number without its extension.
                let number = text.split(|&b| b == b'x' || b == b'e').next().unwrap_or_default();
                (7..=15).contains(&number.iter().filter(|b| b.is_ascii_digit()).count())
            }
            Validator::Email => email(text),
        }
    }
}

/// The digits of `text` as values 0–9, in a buffer of `N` (no allocation: validators run for
/// every candidate, near misses included); `None` if there are more than `N`.
fn digits<const N: usize>(text: &[u8]) -> Option<([u8; N], usize)> {
    let mut out = [0u8; N];
    let mut len = 0;
    for b in text.iter().filter(|b| b.is_ascii_digit()) {
        *out.get_mut(len)? = b - b'0';
        len += 1;
    }
    Some((out, len))
}

/// Luhn checksum of a digit string.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn card(text: &[u8]) -> bool {
    let Some((buffer, len)) = digits::<19>(text) else { return false };
    let d = &buffer[..len];
    if !(13..=19).contains(&d.len()) || !luhn(d) {
        return false;
    }
    let prefix = |n: usize| d.iter().take(n).fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    let len = d.len();
    match d[0] {
        4 => matches!(len, 13 | 16 | 19),                     // Visa
        5 => (51..=55).contains(&prefix(2)) && len == 16,     // Mastercard
        2 => (2221..=2720).contains(&prefix(4)) && len == 16, // Mastercard 2-series
        3 => match prefix(2) {
            34 | 37 => len == 15,                                               // Amex
            36 | 38 | 39 => (14..=19).contains(&len),                           // Diners
            30 => (300..=305).contains(&prefix(3)) && (14..=19).contains(&len), // Diners
            35 => (16..=19).contains(&len), // JCB (3528–3589 today; older 35xx numbers still circulate)
            _ => false,
        },
        6 => {
            prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3))   // Discover
                || prefix(2) == 62 // UnionPay
        }
        _ => false,
    }
}

/// IBAN lengths by country (SWIFT IBAN registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// The length of the longest prefix of `text` without its `n`th byte for which `counts` holds
/// (all of `text` if it has fewer).
fn before_nth(text: &[u8], n: usize, counts: impl Fn(&u8) -> bool) -> usize {
    text.iter().enumerate().filter(|(_, b)| counts(b)).nth(n.saturating_sub(1)).map_or(text.len(), |(at, _)| at)
}

/// The IBAN length of the country `text` starts with (letters in either case), if known.
fn iban_length(text: &[u8]) -> Option<usize> {
    let country = [text.first()?.to_ascii_uppercase(), text.get(1)?.to_ascii_uppercase()];
    // The table is sorted by country code.
    let at = IBAN_LENGTHS.binary_search_by(|(c, _)| c.as_bytes().cmp(&country[..])).ok()?;
    Some(IBAN_LENGTHS[at].1)
}

/// Longest IBAN of any country.
const IBAN_MAX: usize = 34;

fn iban(text: &[u8]) -> bool {
    let mut buffer = [0u8; IBAN_MAX];
    let mut len = 0;
    for b in text.iter().filter(|b| !b.is_ascii_whitespace()) {
        let Some(slot) = buffer.get_mut(len) else { return false };
        *slot = b.to_ascii_uppercase();
        len += 1;
    }
    let compact = &buffer[..len];
    if iban_length(compact) != Some(compact.len()) {
        return false;
    }
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    let mut remainder: u32 = 0;
    for &b in rearranged {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

fn ipv6(text: &[u8]) -> bool {
    // `:::` and a second `::` are refused before the (much slower) full parse: runs of colons
    // are what make a body slow to scan.
    let doubles = text.windows(2).filter(|w| *w == b"::").count();
    if doubles > 1 {
        return false; // `:::` holds two overlapping `::`
    }
    let colons = text.iter().filter(|&&b| b == b':').count();
    let lone_colon_first = text.starts_with(b":") && !text.starts_with(b"::");
    let lone_colon_last = text.ends_with(b":") && !text.ends_with(b"::");
    if (doubles == 0 && colons != 7 && !text.contains(&b'.')) || lone_colon_first || lone_colon_last {
        return false; // eight groups without `::`; `:` alone at either end
    }
    std::str::from_utf8(text).is_ok_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
}

fn ssn(text: &[u8]) -> bool {
    let Some((d, 9)) = digits::<9>(text) else { return false };
    let number = |range: std::ops::Range<usize>| d[range].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    let (area, group, serial) = (number(0..3), number(3..5), number(5..9));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn jwt(text: &[u8]) -> bool {
    let Some(header) = text.split(|&b| b == b'.').next() else { return false };
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else { return false };
    serde_json::from_slice::<serde_json::Value>(&decoded).is_ok_and(|h| h.get("alg").is_some())
}

fn email(text: &[u8]) -> bool {
    let Some(at) = text.iter().rposition(|&b| b == b'@') else { return false };
    let local = &text[..at];
    !local.is_empty() && local[0] != b'.' && local[local.len() - 1] != b'.' && !local.windows(2).any(|w| w == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_need_luhn_and_an_issuer() {
        assert!(Validator::Luhn.check(b"4111 1111 1111 1111"));
        assert!(Validator::Luhn.check(b"378282246310005"), "Amex");
        assert!(Validator::Luhn.check(b"5555-5555-5555-4444"));
        assert!(!Validator::Luhn.check(b"4111111111111112"), "fails Luhn");
        assert!(!Validator::Luhn.check(b"1234567812345670"), "passes Luhn, no issuer");
    }

    #[test]
    fn ibans_need_their_country_length_and_mod_97() {
        assert!(Validator::Iban.check(b"DE89 3704 0044 0532 0130 00"));
        assert!(Validator::Iban.check(b"GB82WEST12345698765432"));
        assert!(!Validator::Iban.check(b"DE89 3704 0044 0532 0130 01"), "checksum");
        assert!(!Validator::Iban.check(b"DE89 3704 0044 0532 0130"), "length");
    }

    #[test]
    fn the_iban_table_is_sorted_for_binary_search() {
        assert!(IBAN_LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(iban_length(b"de89"), Some(22));
        assert_eq!(iban_length(b"ZZ00"), None);
    }

    #[test]
    fn shorter_matches_are_ruled_out_only_when_they_cannot_pass() {
        assert_eq!(Validator::Iban.shorter_limit(b"DE89 3704 0044 0532 0130 00"), 0, "already the country's length");
        assert_eq!(Validator::Iban.shorter_limit(b"DE89 3704 0044 0532 0130 0012"), 27, "before DE's 23rd character");
        assert_eq!(Validator::Luhn.shorter_limit(b"4111 1111 1111 1111 1111 1"), 23, "before the 20th digit");
        assert_eq!(
            Validator::Luhn.shorter_limit(b"4111 1111 1111 1111 111: 1"),
            25,
            "a separator after the 19th may stay"
        );
        assert_eq!(Validator::Iban.shorter_limit(b"ZZ89 3704 0044 0532 0130 00"), 0, "no such country");
        assert_eq!(Validator::Luhn.shorter_limit(b"4111 1111 1111 1112"), 18);
        assert_eq!(Validator::Luhn.shorter_limit(b"4111111111111"), 0, "13 digits: the fewest a card has");
        assert_eq!(Validator::Jwt.shorter_limit(b"eyJub3QiOiJqd3QifQ.eyJzdWIiOiJ4In0.c2ln"), 0);
        assert_eq!(Validator::Email.shorter_limit(b"a..b@example.com"), 15);
        assert_eq!(Validator::Ipv6.shorter_limit(b"::9:::9:::9"), 4, "before the second `::`");
        assert!(Validator::Ipv6.check(&b"::9:::9:::9"[..3]));
        for address in ["1:2:3:4:5:6:7:8", "::", "::1", "1::", "2001:db8::1", "fe80::1:2:3:4:5", "1:2:3:4:5:6:1.2.3.4"]
        {
            assert!(Validator::Ipv6.check(address.as_bytes()), "{address}");
        }
        for not_one in [":1::2", "1::2:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3"] {
            assert!(!Validator::Ipv6.check(not_one.as_bytes()), "{not_one}");
        }
        assert_eq!(Validator::Ipv6.shorter_limit(b"1::2::3:4"), 5, "before the second `::`");
        assert_eq!(Validator::Ipv6.shorter_limit(b":::9"), 2);
        assert_eq!(Validator::Ipv6.shorter_limit(b"12:34:56"), 0, "too few groups, and no `::`");
        assert_eq!(Validator::Ipv6.shorter_limit(b"00:1a:2b:3c:4d:5e"), 0, "a MAC address");
        assert_eq!(Validator::Ipv6.shorter_limit(b":1a:2b:3c:4d:5e"), 0, "a lone colon first");
        assert_eq!(Validator::Ipv6.shorter_limit(b"2001:db8::1:zz"), 13);
        assert_eq!(Validator::Ipv6.shorter_limit(b"1:2:3:4:5:6:1.2.3.4x"), 19, "an IPv4 tail");
    }

    #[test]
    fn ssns_outside_issued_ranges_are_not_ssns() {
        assert!(Validator::Ssn.check(b"123-45-6789"));
        for bad in ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"] {
            assert!(!Validator::Ssn.check(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn addresses_tokens_and_emails() {
        assert!(Validator::Ipv4.check(b"192.168.0.1") && !Validator::Ipv4.check(b"256.1.1.1"));
        assert!(Validator::Ipv6.check(b"2001:db8::1") && !Validator::Ipv6.check(b"12:34:56"));
        assert!(Validator::Jwt.check(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!Validator::Jwt.check(b"eyJub3QiOiJqd3QifQ.eyJzdWIiOiJ4In0.c2ln"), "no alg");
        assert!(Validator::Email.check(b"a.b@example.com") && !Validator::Email.check(b"a..b@example.com"));
    }
}
