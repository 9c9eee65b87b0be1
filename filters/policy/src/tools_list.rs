//! Filtering MCP `tools/list` results: a caller is shown only the tools it may call. Each
//! listed tool is decided as a `tools/call` of that tool with empty arguments by the same
//! caller on the same endpoint; a tool whose call would be denied is removed (one that needs
//! approval stays listed: it can be called once approved). Calls stay enforced either way:
//! this only keeps agents from seeing, and trying, tools they cannot use.

use crate::compile::Policy;
use crate::decide::decide_body;
use crate::request::Request;
use serde_json::{json, Value};
use warden_kit::facts::Verdict;

/// Whether the caller of `request` may call `tool` on the same endpoint: a `tools/call` of it
/// with empty arguments is not denied (needing approval counts as callable).
pub fn may_call(policy: &Policy, request: &Request<'_>, tool: &str) -> bool {
    let call = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
    decide_body(policy, request, call.to_string().as_bytes()).fact.effect != Verdict::Deny
}

/// The body with refused tools removed and how many were removed, or `None` when the body
/// holds no `tools/list` result (left as it is). `event_stream`: the body is SSE, whose
/// single-line `data:` events are filtered one by one.
pub fn filter(body: &[u8], event_stream: bool, may_call: &dyn Fn(&str) -> bool) -> Option<(Vec<u8>, usize)> {
    if !event_stream {
        let mut message: Value = serde_json::from_slice(body).ok()?;
        let hidden = filter_message(&mut message, may_call)?;
        return Some((serde_json::to_vec(&message).ok()?, hidden));
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut total = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        let filtered = content.strip_prefix("data:").and_then(|data| {
            let mut message: Value = serde_json::from_str(data.trim_start()).ok()?;
            let hidden = filter_message(&mut message, may_call)?;
            Some((serde_json::to_string(&message).ok()?, hidden))
        });
        match filtered {
            Some((json, hidden)) => {
                out.push_str("data: ");
                out.push_str(&json);
                out.push_str(ending);
                total = Some(total.unwrap_or(0) + hidden);
            }
            None => out.push_str(line),
        }
    }
    total.map(|hidden| (out.into_bytes(), hidden))
}

/// Removes refused tools from one JSON-RPC response with `result.tools`.
fn filter_message(message: &mut Value, may_call: &dyn Fn(&str) -> bool) -> Option<usize> {
    let tools = message.get_mut("result")?.get_mut("tools")?.as_array_mut()?;
    let before = tools.len();
    // A tool without a name cannot be called: it is not shown either.
    tools.retain(|tool| tool.get("name").and_then(Value::as_str).is_some_and(may_call));
    Some(before - tools.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(name: &str) -> bool {
        name.starts_with("read_")
    }

    #[test]
    fn a_json_result_keeps_only_callable_tools_and_everything_else() {
        let body = br#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"read_file"},{"name":"delete_file"},{"description":"no name"}],"nextCursor":"c2"}}"#;
        let (out, hidden) = filter(body, false, &allowed).expect("a tools/list result");
        assert_eq!(hidden, 2);
        let out: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(out["result"]["tools"], serde_json::json!([{"name": "read_file"}]));
        assert_eq!((out["id"].clone(), out["result"]["nextCursor"].clone()), (4.into(), "c2".into()));
    }

    #[test]
    fn an_event_stream_is_filtered_event_by_event_and_keeps_its_framing() {
        let body = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"drop_db\"},{\"name\":\"read_x\"}]}}\r\n\r\n: keep-alive\n\n";
        let (out, hidden) = filter(body.as_bytes(), true, &allowed).expect("a tools/list result");
        assert_eq!(hidden, 1);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "event: message\r\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"tools\":[{\"name\":\"read_x\"}]}}\r\n\r\n: keep-alive\n\n"
        );
    }

    #[test]
    fn other_bodies_are_left_alone() {
        assert!(filter(br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#, false, &allowed).is_none());
        assert!(filter(b"not json", false, &allowed).is_none());
        assert!(filter(b"data: {\"result\":{}}\n\n", true, &allowed).is_none());
    }
}
