//! Compiled conditions on text, paths, hosts, addresses and time, built once at load.

use crate::config::{PathConfig, ValueConfig};
use regex::Regex;
use std::net::IpAddr;
use warden_kit::ConfigError;

/// A condition on an optional text value.
#[derive(Debug, Clone)]
pub enum ValueMatcher {
    /// Equal to one of.
    OneOf(Vec<String>),
    /// Starts with.
    Prefix(String),
    /// Anchored regular expression.
    Regex(Regex),
    /// Present or absent.
    Present(bool),
}

impl ValueMatcher {
    /// Compiles exactly one of the fields of `config`.
    pub fn compile(config: &ValueConfig) -> Result<ValueMatcher, ConfigError> {
        let given = [
            config.equals.is_some(),
            config.one_of.is_some(),
            config.prefix.is_some(),
            config.regex.is_some(),
            config.present.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ConfigError::new("", "give exactly one of equals, in, prefix, regex, present"));
        }
        Ok(if let Some(value) = &config.equals {
            ValueMatcher::OneOf(vec![value.clone()])
        } else if let Some(values) = &config.one_of {
            if values.is_empty() {
                return Err(ConfigError::new("in", "list at least one value"));
            }
            ValueMatcher::OneOf(values.clone())
        } else if let Some(prefix) = &config.prefix {
            ValueMatcher::Prefix(prefix.clone())
        } else if let Some(pattern) = &config.regex {
            ValueMatcher::Regex(anchored(pattern).map_err(|e| e.within("regex"))?)
        } else {
            ValueMatcher::Present(config.present.unwrap_or(true))
        })
    }

    /// Whether `value` satisfies the condition.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (ValueMatcher::Present(want), v) => v.is_some() == *want,
            (_, None) => false,
            (ValueMatcher::OneOf(values), Some(v)) => values.iter().any(|x| x == v),
            (ValueMatcher::Prefix(prefix), Some(v)) => v.starts_with(prefix.as_str()),
            (ValueMatcher::Regex(re), Some(v)) => re.is_match(v),
        }
    }
}

/// Largest compiled regular expression (bytes of program): keeps a hostile or careless
/// pattern from using the VM's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles `pattern` anchored at both ends.
pub fn anchored(pattern: &str) -> Result<Regex, ConfigError> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| ConfigError::new("", format!("not a valid regular expression: {}", first_line(&e.to_string()))))
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

/// A glob as an anchored regex. With `segments`, `*` and `?` stay within a `/` segment and `**`
/// crosses segments; without, `*` matches any run.
pub fn glob(pattern: &str, segments: bool) -> Result<Regex, ConfigError> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str(if segments { "[^/]*" } else { ".*" }),
            '?' => out.push_str(if segments { "[^/]" } else { "." }),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    anchored(&out)
}

/// A text that is matched exactly or, when it contains `*`, as a glob.
#[derive(Debug, Clone)]
pub enum NamePattern {
    /// Equal to.
    Exact(String),
    /// Glob.
    Glob(Regex),
}

impl NamePattern {
    /// Compiles `pattern`.
    pub fn compile(pattern: &str) -> Result<NamePattern, ConfigError> {
        if pattern.contains('*') {
            Ok(NamePattern::Glob(glob(pattern, false)?))
        } else {
            Ok(NamePattern::Exact(pattern.to_string()))
        }
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            NamePattern::Exact(x) => x == value,
            NamePattern::Glob(re) => re.is_match(value),
        }
    }
}

/// A path condition.
#[derive(Debug, Clone)]
pub enum PathMatcher {
    /// Equal to.
    Exact(String),
    /// Starts with.
    Prefix(String),
    /// Glob or regex.
    Pattern(Regex),
}

impl PathMatcher {
    /// Compiles exactly one of the fields of `config`.
    pub fn compile(config: &PathConfig) -> Result<PathMatcher, ConfigError> {
        let given = [config.exact.is_some(), config.prefix.is_some(), config.glob.is_some(), config.regex.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ConfigError::new("", "give exactly one of exact, prefix, glob, regex"));
        }
        let must_be_absolute = |p: &str, field: &str| {
            if p.starts_with('/') {
                Ok(())
            } else {
                Err(ConfigError::new(field, "a path starts with `/`"))
            }
        };
        Ok(if let Some(p) = &config.exact {
            must_be_absolute(p, "exact")?;
            PathMatcher::Exact(p.clone())
        } else if let Some(p) = &config.prefix {
            must_be_absolute(p, "prefix")?;
            PathMatcher::Prefix(p.clone())
        } else if let Some(p) = &config.glob {
            must_be_absolute(p, "glob")?;
            PathMatcher::Pattern(glob(p, true).map_err(|e| e.within("glob"))?)
        } else {
            PathMatcher::Pattern(anchored(config.regex.as_deref().unwrap_or_default()).map_err(|e| e.within("regex"))?)
        })
    }

    /// Whether `path` (without query) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatcher::Exact(p) => p == path,
            PathMatcher::Prefix(p) => path.starts_with(p.as_str()),
            PathMatcher::Pattern(re) => re.is_match(path),
        }
    }
}

/// A host condition: exact (case-insensitive, port ignored) or `*.example.com`.
#[derive(Debug, Clone)]
pub enum HostMatcher {
    /// Equal to.
    Exact(String),
    /// Any subdomain of (the suffix includes the leading dot).
    Subdomain(String),
}

impl HostMatcher {
    /// Compiles `pattern`.
    pub fn compile(pattern: &str) -> Result<HostMatcher, ConfigError> {
        let lower = pattern.to_ascii_lowercase();
        match lower.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && !suffix.contains('*') => {
                Ok(HostMatcher::Subdomain(suffix.to_string()))
            }
            Some(_) => Err(ConfigError::new("", "only a leading `*.` wildcard is allowed in a host")),
            None if lower.contains('*') => {
                Err(ConfigError::new("", "only a leading `*.` wildcard is allowed in a host"))
            }
            None => Ok(HostMatcher::Exact(lower)),
        }
    }

    /// Whether `authority` (lowercase, maybe with a port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostMatcher::Exact(h) => h == host,
            HostMatcher::Subdomain(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }
}

/// Host part of an authority, lowercase, without the port.
pub fn host_of(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_string()
    };
    host.to_ascii_lowercase()
}

/// An address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a single address.
    pub fn parse(text: &str) -> Result<Cidr, ConfigError> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| ConfigError::new("", "not an IP address or CIDR"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => {
                b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| ConfigError::new("", "bad prefix length"))?
            }
            None => max,
        };
        Ok(Cidr { network, bits })
    }

    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_equal(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_equal(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_equal(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// Source address from Envoy's `source.address` (`ip:port` or `[ipv6]:port`).
pub fn source_ip(address: &str) -> Option<IpAddr> {
    if let Ok(ip) = address.parse() {
        return Some(ip);
    }
    let host = match address.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => address.rsplit_once(':')?.0,
    };
    host.parse().ok()
}

/// A weekly time window.
#[derive(Debug, Clone)]
pub struct TimeWindow {
    /// Weekdays, 0 = Monday; empty = every day.
    days: Vec<u8>,
    /// Minutes since midnight: [from, to); `to` < `from` crosses midnight.
    minutes: Option<(u16, u16)>,
}

/// Weekday names, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl TimeWindow {
    /// Compiles days and an optional `from`/`to` pair.
    pub fn compile(days: &[String], from: Option<&str>, to: Option<&str>) -> Result<TimeWindow, ConfigError> {
        let mut parsed = Vec::new();
        for (i, day) in days.iter().enumerate() {
            let index = DAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day))
                .ok_or_else(|| ConfigError::new(format!("days[{i}]"), "use mon, tue, wed, thu, fri, sat, sun"))?;
            parsed.push(index as u8);
        }
        let minutes = match (from, to) {
            (Some(f), Some(t)) => Some((hhmm(f).map_err(|e| e.within("from"))?, hhmm(t).map_err(|e| e.within("to"))?)),
            (None, None) => None,
            _ => return Err(ConfigError::new("", "give both from and to")),
        };
        if parsed.is_empty() && minutes.is_none() {
            return Err(ConfigError::new("", "give days and/or from and to"));
        }
        Ok(TimeWindow { days: parsed, minutes })
    }

    /// Whether `now_secs` (Unix time) shifted by `offset_secs` is in the window.
    pub fn contains(&self, now_secs: u64, offset_secs: i64) -> bool {
        let local = now_secs as i64 + offset_secs;
        let day = local.div_euclid(86_400);
        let weekday = (day + 3).rem_euclid(7) as u8; // 1970-01-01 was a Thursday
        let minute = (local.rem_euclid(86_400) / 60) as u16;
        let day_ok = self.days.is_empty() || self.days.contains(&weekday);
        let time_ok = match self.minutes {
            None => true,
            Some((from, to)) if from <= to => minute >= from && minute < to,
            Some((from, to)) => minute >= from || minute < to,
        };
        day_ok && time_ok
    }
}

/// Parses `HH:MM`.
pub fn hhmm(text: &str) -> Result<u16, ConfigError> {
    let bad = || ConfigError::new("", "use HH:MM (00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses a `+HH:MM` / `-HH:MM` offset into seconds.
pub fn utc_offset(text: &str) -> Result<i64, ConfigError> {
    let bad = || ConfigError::new("", "use +HH:MM or -HH:MM");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let minutes = hhmm(rest).map_err(|_| bad())?;
    if minutes > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * i64::from(minutes) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_globs_stay_within_segments_unless_double_star() {
        let one =
            PathMatcher::compile(&PathConfig { glob: Some("/api/*/users".into()), ..Default::default() }).unwrap();
        assert!(one.matches("/api/v1/users"));
        assert!(!one.matches("/api/v1/x/users"));
        let any = PathMatcher::compile(&PathConfig { glob: Some("/api/**".into()), ..Default::default() }).unwrap();
        assert!(any.matches("/api/v1/x/users"));
        assert!(!any.matches("/apix"));
    }

    #[test]
    fn regexes_are_anchored() {
        let re =
            PathMatcher::compile(&PathConfig { regex: Some("/admin/[0-9]+".into()), ..Default::default() }).unwrap();
        assert!(re.matches("/admin/42"));
        assert!(!re.matches("/x/admin/42"));
        assert!(!re.matches("/admin/42/delete"));
    }

    #[test]
    fn hosts_match_exactly_or_as_subdomains_without_the_port() {
        let sub = HostMatcher::compile("*.Example.com").unwrap();
        assert!(sub.matches(&host_of("api.example.com:8443")));
        assert!(!sub.matches(&host_of("example.com")));
        assert!(!sub.matches(&host_of("evilexample.com")));
        assert!(HostMatcher::compile("a*.example.com").is_err());
        assert_eq!(host_of("[::1]:80"), "[::1]");
    }

    #[test]
    fn cidrs_contain_their_addresses_only() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert_eq!(source_ip("127.0.0.1:4000"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(source_ip("[::1]:4000"), Some("::1".parse().unwrap()));
    }

    #[test]
    fn time_windows_know_weekdays_offsets_and_midnight() {
        // 2026-01-05 was a Monday; 10:30 UTC.
        let monday_1030 = 1_767_609_000;
        let office = TimeWindow::compile(&["mon".into(), "fri".into()], Some("09:00"), Some("17:00")).unwrap();
        assert!(office.contains(monday_1030, 0));
        assert!(!office.contains(monday_1030, 8 * 3600), "18:30 at +08:00");
        let night = TimeWindow::compile(&[], Some("22:00"), Some("06:00")).unwrap();
        assert!(night.contains(monday_1030, 13 * 3600), "23:30 at +13:00");
        assert!(!night.contains(monday_1030, 0));
        assert_eq!(utc_offset("-05:30").unwrap(), -(5 * 3600 + 30 * 60));
        assert!(utc_offset("05:00").is_err());
    }
}
