//! MCP requests as Warden's stages see them (the policy decides on them, the approval stage
//! binds approvals to them): the JSON-RPC calls in a request body (one message or
//! a batch), with the tool name and arguments of `tools/call`.

use serde_json::Value;

/// One JSON-RPC call.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// The request id (`None` for a notification).
    pub id: Option<Value>,
    /// JSON-RPC method, e.g. `tools/call`.
    pub method: String,
    /// Tool name of a `tools/call`.
    pub tool: Option<String>,
    /// `params.arguments` of a `tools/call` (`null` otherwise).
    pub arguments: Value,
}

/// The calls in a parsed JSON body, or `None` when it is not JSON-RPC 2.0 (every element of a
/// batch must be a JSON-RPC message with a string `method`).
pub fn calls(body: &Value) -> Option<(Vec<McpCall>, bool)> {
    match body {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(call).collect::<Option<Vec<_>>>().map(|calls| (calls, true))
        }
        Value::Object(_) => call(body).map(|c| (vec![c], false)),
        _ => None,
    }
}

fn call(message: &Value) -> Option<McpCall> {
    if message.get("jsonrpc")?.as_str()? != "2.0" {
        return None;
    }
    let method = message.get("method")?.as_str()?.to_string();
    let params = message.get("params");
    let (tool, arguments) = if method == "tools/call" {
        (
            params.and_then(|p| p.get("name")).and_then(Value::as_str).map(str::to_string),
            params.and_then(|p| p.get("arguments")).cloned().unwrap_or(Value::Null),
        )
    } else {
        (None, Value::Null)
    };
    Some(McpCall { id: message.get("id").cloned(), method, tool, arguments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tool_call_has_its_name_arguments_and_id() {
        let body =
            json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_user","arguments":{"id":42}}});
        let (calls, batch) = calls(&body).unwrap();
        assert!(!batch);
        assert_eq!(calls[0].tool.as_deref(), Some("delete_user"));
        assert_eq!(calls[0].arguments, json!({"id": 42}));
        assert_eq!(calls[0].id, Some(json!(7)));
    }

    #[test]
    fn a_batch_lists_every_call_and_anything_else_is_not_mcp() {
        let body = json!([{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"}]);
        let (calls, batch) = calls(&body).unwrap();
        assert!(batch);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].id, None);
        assert!(super::calls(&json!({"method":"tools/call"})).is_none(), "no jsonrpc version");
        assert!(super::calls(&json!([{"jsonrpc":"2.0","method":"a"}, 3])).is_none(), "a bad batch element");
        assert!(super::calls(&json!([])).is_none());
    }
}
