//! JSON paths of masking rules: `$.users[*].ssn`, `$..password`, `$.items[0]['card no']`,
//! `$.*.token`. Matched against the path of each value while a body is rewritten.

use warden_kit::ConfigError;

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// `.name` or `['name']`.
    Key(String),
    /// `[n]`.
    Index(usize),
    /// `.*` or `[*]`: any member or element.
    Any,
    /// `..name`: a member named so at any depth below.
    Descendant(String),
}

/// A segment of a value's location: an object key (raw bytes) or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Member name as written (escapes not decoded).
    Key(&'a [u8]),
    /// Element index.
    Index(usize),
}

/// A compiled JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `text`; it must start with `$`.
    pub fn parse(text: &str) -> Result<JsonPath, ConfigError> {
        let bad = |why: &str| ConfigError::new("path", format!("`{text}`: {why}"));
        let rest = text.strip_prefix('$').ok_or_else(|| bad("a path starts with `$`"))?;
        let bytes = rest.as_bytes();
        let mut steps = Vec::new();
        let mut i = 0;
        let name_end =
            |from: usize| bytes[from..].iter().position(|&b| b == b'.' || b == b'[').map_or(bytes.len(), |p| from + p);
        while i < bytes.len() {
            match bytes[i] {
                b'.' if bytes.get(i + 1) == Some(&b'.') => {
                    let end = name_end(i + 2);
                    let name = &rest[i + 2..end];
                    if name.is_empty() || name == "*" {
                        return Err(bad("`..` needs a member name"));
                    }
                    steps.push(Step::Descendant(name.to_string()));
                    i = end;
                }
                b'.' => {
                    let end = name_end(i + 1);
                    match &rest[i + 1..end] {
                        "" => return Err(bad("empty member name")),
                        "*" => steps.push(Step::Any),
                        name => steps.push(Step::Key(name.to_string())),
                    }
                    i = end;
                }
                b'[' => {
                    let close = rest[i..].find(']').map(|p| i + p).ok_or_else(|| bad("unclosed `[`"))?;
                    let inner = rest[i + 1..close].trim();
                    let step = if inner == "*" {
                        Step::Any
                    } else if let Some(quoted) = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    {
                        Step::Key(quoted.to_string())
                    } else {
                        Step::Index(inner.parse().map_err(|_| bad("`[...]` holds *, an index or a quoted name"))?)
                    };
                    steps.push(step);
                    i = close + 1;
                }
                _ => return Err(bad("expected `.` or `[`")),
            }
        }
        if steps.is_empty() {
            return Err(bad("`$` alone would mask the whole body; name a member"));
        }
        Ok(JsonPath { steps })
    }

    /// Whether the value at `location` (root first) is selected.
    pub fn matches(&self, location: &[Segment<'_>]) -> bool {
        matches_from(&self.steps, location)
    }
}

fn matches_from(steps: &[Step], location: &[Segment<'_>]) -> bool {
    let Some((step, rest)) = steps.split_first() else { return location.is_empty() };
    match step {
        Step::Descendant(name) => (0..location.len()).any(|skip| {
            matches!(location[skip], Segment::Key(k) if k == name.as_bytes())
                && matches_from(rest, &location[skip + 1..])
        }),
        _ => {
            let Some((segment, below)) = location.split_first() else { return false };
            let here = match (step, segment) {
                (Step::Any, _) => true,
                (Step::Key(name), Segment::Key(k)) => name.as_bytes() == *k,
                (Step::Index(n), Segment::Index(i)) => n == i,
                _ => false,
            };
            here && matches_from(rest, below)
        }
    }
}

/// `$.users[0].ssn` for a location (facts name paths this way).
pub fn render(location: &[Segment<'_>]) -> String {
    let mut out = String::from("$");
    for segment in location {
        match segment {
            Segment::Key(k) => {
                let name = String::from_utf8_lossy(k);
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    out.push('.');
                    out.push_str(&name);
                } else {
                    out.push_str(&format!("['{name}']"));
                }
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(parts: &[&str]) -> Vec<Segment<'static>> {
        parts
            .iter()
            .map(|p| match p.parse::<usize>() {
                Ok(i) => Segment::Index(i),
                Err(_) => Segment::Key(Box::leak(p.to_string().into_boxed_str()).as_bytes()),
            })
            .collect()
    }

    #[test]
    fn paths_select_members_elements_and_descendants() {
        let ssn = JsonPath::parse("$.users[*].ssn").unwrap();
        assert!(ssn.matches(&at(&["users", "3", "ssn"])));
        assert!(!ssn.matches(&at(&["users", "3", "name"])));
        assert!(!ssn.matches(&at(&["users", "3", "ssn", "x"])));
        let password = JsonPath::parse("$..password").unwrap();
        assert!(password.matches(&at(&["a", "0", "password"])) && password.matches(&at(&["password"])));
        let quoted = JsonPath::parse("$.items[0]['card no']").unwrap();
        assert!(quoted.matches(&at(&["items", "0", "card no"])));
        assert_eq!(render(&at(&["items", "0", "card no"])), "$.items[0]['card no']");
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for (path, why) in
            [("users", "starts with `$`"), ("$", "whole body"), ("$.a[", "unclosed"), ("$..", "member name")]
        {
            let err = JsonPath::parse(path).unwrap_err().to_string();
            assert!(err.contains(why), "{path}: {err}");
        }
    }
}
