//! The action digest: what an approval is bound to. SHA-256 over the RFC 8785 canonical JSON
//! of [`ActionInput`]; `sha256:` and 64 lowercase hex digits. Documented in
//! `filters/approval/README.md`; the same on every platform and build.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use warden_kit::facts::IdentityFact;

/// Version of the encoding below.
pub const DIGEST_VERSION: u32 = 1;

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequesterInput {
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Subjects of the actor chain, outermost first.
    pub actors: Vec<String>,
}

/// An MCP `tools/call`: the tool and its arguments (the JSON-RPC `id` is not part of it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallInput {
    /// Tool name.
    pub tool: String,
    /// Arguments (canonicalized with the rest).
    pub arguments: Value,
}

/// Everything the digest covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionInput {
    /// [`DIGEST_VERSION`].
    pub v: u32,
    /// Who asks.
    pub requester: RequesterInput,
    /// Method, upper case.
    pub method: String,
    /// Authority, lower case, without a default port.
    pub authority: String,
    /// Normalized path and query ([`normalize_path`]).
    pub path: String,
    /// Content type, lower case, parameters kept (`""` when absent).
    pub content_type: String,
    /// SHA-256 (hex) of the body (of no bytes when there is none); `None` for an MCP call.
    pub body_sha256: Option<String>,
    /// The MCP tool call, instead of the raw body.
    pub mcp: Option<ToolCallInput>,
    /// Ids of the rules that asked for approval.
    pub rules: Vec<String>,
    /// Policy version.
    pub policy: String,
}

impl RequesterInput {
    /// From the verified identity.
    pub fn of(identity: &IdentityFact) -> RequesterInput {
        RequesterInput {
            subject: identity.subject.clone(),
            issuer: identity.issuer.clone(),
            actors: identity.actors.iter().map(|a| a.subject.clone()).collect(),
        }
    }
}

/// `sha256:` and the hex SHA-256 of the canonical JSON of `input`.
pub fn digest(input: &ActionInput) -> Option<String> {
    let bytes = warden_kit::canonical::to_vec(input).ok()?;
    Some(format!("sha256:{}", warden_kit::hex::encode(&Sha256::digest(bytes))))
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    warden_kit::hex::encode(&Sha256::digest(bytes))
}

/// The path and query as bound: `.` and `..` segments resolved, repeated `/` collapsed, query
/// parameters sorted (each `name=value` kept as sent, percent-encoding included), fragment
/// dropped. `/a//b/./c/../d?z=1&a=2` → `/a/b/d?a=2&z=1`.
pub fn normalize_path(raw: &str) -> String {
    let raw = raw.split('#').next().unwrap_or(raw);
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    if !params.is_empty() {
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The authority as bound: lower case, without `:80` or `:443`.
pub fn normalize_authority(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    lower.strip_suffix(":80").or_else(|| lower.strip_suffix(":443")).map(str::to_string).unwrap_or(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> ActionInput {
        ActionInput {
            v: DIGEST_VERSION,
            requester: RequesterInput {
                subject: "alice".into(),
                issuer: "https://idp".into(),
                actors: vec!["agent-7".into()],
            },
            method: "POST".into(),
            authority: "db.internal".into(),
            path: "/query".into(),
            content_type: "application/json".into(),
            body_sha256: Some(sha256_hex(b"{\"sql\":\"DELETE FROM t\"}")),
            mcp: None,
            rules: vec!["destructive-sql".into()],
            policy: "sha256:00".into(),
        }
    }

    #[test]
    fn paths_are_normalized_before_binding() {
        assert_eq!(normalize_path("/a//b/./c/../d?z=1&a=2#frag"), "/a/b/d?a=2&z=1");
        assert_eq!(normalize_path("/../../etc"), "/etc");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/x/"), "/x/");
        assert_eq!(normalize_authority("API.Example:443"), "api.example");
    }

    #[test]
    fn every_bound_field_changes_the_digest() {
        let base = digest(&input()).unwrap();
        assert!(base.starts_with("sha256:") && base.len() == 71);
        let changes: [fn(&mut ActionInput); 10] = [
            |i| i.requester.subject = "mallory".into(),
            |i| i.requester.issuer = "https://other".into(),
            |i| i.requester.actors.clear(),
            |i| i.method = "PUT".into(),
            |i| i.authority = "db2.internal".into(),
            |i| i.path = "/query?x=1".into(),
            |i| i.content_type = "text/plain".into(),
            |i| i.body_sha256 = Some(sha256_hex(b"{}")),
            |i| i.rules = vec!["other".into()],
            |i| i.policy = "sha256:01".into(),
        ];
        for change in changes {
            let mut changed = input();
            change(&mut changed);
            assert_ne!(digest(&changed).unwrap(), base);
        }
    }

    #[test]
    fn tool_arguments_bind_by_value_not_by_formatting() {
        let mut a = input();
        a.body_sha256 = None;
        a.mcp = Some(ToolCallInput { tool: "delete_user".into(), arguments: json!({"id": 42, "hard": true}) });
        let mut b = a.clone();
        b.mcp = Some(ToolCallInput {
            tool: "delete_user".into(),
            arguments: serde_json::from_str("{ \"hard\" : true , \"id\" : 42.0 }").unwrap(),
        });
        assert_eq!(digest(&a), digest(&b), "key order, spacing and 42 vs 42.0 do not matter");
        b.mcp = Some(ToolCallInput { tool: "delete_user".into(), arguments: json!({"id": 43, "hard": true}) });
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn the_encoding_is_pinned() {
        // Changing the encoding changes every digest: bump DIGEST_VERSION and document it.
        assert_eq!(
            String::from_utf8(warden_kit::canonical::to_vec(&input()).unwrap()).unwrap(),
            r#"{"authority":"db.internal","body_sha256":"bfbfb925d6f70a7522b96fd7a7a9d9e4c248d6fa3beddce9fdc0bc12f31a1025","content_type":"application/json","mcp":null,"method":"POST","path":"/query","policy":"sha256:00","requester":{"actors":["agent-7"],"issuer":"https://idp","subject":"alice"},"rules":["destructive-sql"],"v":1}"#
        );
    }
}
