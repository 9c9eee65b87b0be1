//! Paths that Envoy and an upstream may read differently. Envoy matches rules on the path as
//! it passes it on (after `normalize_path` and `merge_slashes`), but frameworks decode more:
//! `%2F` becomes `/` (`/admin%2Fusers` is `/admin/users` to many servers), `\\` is a separator
//! on Windows-minded ones, Java servers strip `;parameters` from each segment
//! (`/admin;x/users`), and `..` segments Envoy did not remove move up a level. Where a policy
//! matches on paths, such a path is refused (400 `ambiguous_path`) rather than matched
//! against rules that would read it one way while the upstream reads it another.

/// Why `path` (without its query) is ambiguous, if it is.
pub fn ambiguity(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") {
        return Some("an encoded slash (%2F)");
    }
    if lower.contains("%5c") || path.contains('\\') {
        return Some("a backslash");
    }
    if path.contains(';') {
        return Some("a path parameter (;)");
    }
    if lower.contains("%00") || path.bytes().any(|b| b.is_ascii_control()) {
        return Some("a control character");
    }
    let dot_segment = lower.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return Some("a dot segment (. or ..)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ambiguity;

    #[test]
    fn spellings_that_upstreams_decode_differently_are_ambiguous() {
        for path in [
            "/admin%2Fusers",
            "/admin%2fusers",
            "/public/..%2Fadmin/users",
            "/public/%2e%2e/admin",
            "/public/.%2E/admin",
            "/admin;x/users",
            "/admin;/users",
            "/public/../admin",
            "/public/./admin",
            "/admin\\users",
            "/admin%5Cusers",
            "/admin%00/users",
            "/..",
        ] {
            assert!(ambiguity(path).is_some(), "{path}");
        }
    }

    #[test]
    fn ordinary_paths_are_not() {
        for path in
            ["/", "/admin/users", "/files/report.v2.pdf", "/a/.well-known/x", "/users/%20name", "/a/b..c", "/..x"]
        {
            assert_eq!(ambiguity(path), None, "{path}");
        }
    }
}
