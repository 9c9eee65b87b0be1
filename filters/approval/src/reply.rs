//! What the caller is answered: JSON for HTTP callers; for an MCP `tools/call`, a JSON-RPC
//! result with the request's id (HTTP 200: a 202 or 403 breaks the streamable HTTP
//! transport), saying what happened and what to do.

use serde_json::{json, Value};
use warden_kit::LocalReply;

/// The header a caller retries with.
pub const RETRY_HEADER: &str = "x-warden-approval";

/// How to answer an MCP call: its JSON-RPC id.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// The call's id.
    pub id: Value,
}

fn json_reply(status: u16, body: Value, details: &str) -> LocalReply {
    LocalReply::new(status, body.to_string()).with_header("content-type", "application/json").with_details(details)
}

fn mcp_reply(call: &McpCall, text: String, structured: Value, details: &str) -> LocalReply {
    let body = json!({"jsonrpc": "2.0", "id": call.id, "result": {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": true,
    }});
    json_reply(200, body, details)
}

/// The approval is pending: come back with its id (deferred, or a hold that timed out).
pub fn pending(
    id: &str,
    status_url: &str,
    expires_at: u64,
    request_id: &str,
    timed_out: bool,
    mcp: Option<&McpCall>,
) -> LocalReply {
    let message = if timed_out {
        "this request needs a human's approval and was not decided while it was held; retry it unchanged with the approval id once approved"
    } else {
        "this request needs a human's approval; retry it unchanged with the approval id once approved"
    };
    let body = json!({
        "status": "approval_pending", "approval_id": id, "status_url": status_url, "expires_at": expires_at,
        "retry_with": {"header": RETRY_HEADER, "value": id}, "message": message, "request_id": request_id,
    });
    let details = if timed_out { "warden_approval_hold_timeout" } else { "warden_approval_pending" };
    match mcp {
        Some(call) => {
            let text = format!(
                "Not run yet: a human must approve this tool call (approval {id}). Retry the same call with header `{RETRY_HEADER}: {id}` once it is approved; status: {status_url}"
            );
            mcp_reply(call, text, body, details)
        }
        None => json_reply(202, body, details),
    }
}

/// Refused with a stable code (403; MCP: a JSON-RPC result saying so).
pub fn refused(
    code: &str,
    message: &str,
    approval_id: Option<&str>,
    request_id: &str,
    mcp: Option<&McpCall>,
) -> LocalReply {
    let body = json!({"error": code, "message": message, "approval_id": approval_id, "request_id": request_id});
    match mcp {
        Some(call) => mcp_reply(call, format!("Refused: {message} ({code})"), body, "warden_approval_refused"),
        None => json_reply(403, body, "warden_approval_refused"),
    }
}

/// The approval service could not be used (503, fail closed).
pub fn unavailable(request_id: &str, mcp: Option<&McpCall>) -> LocalReply {
    let message = "the approval service is unavailable; the request was not run";
    let body = json!({"error": "approval_service_unavailable", "message": message, "request_id": request_id});
    match mcp {
        Some(call) => mcp_reply(call, format!("Not run: {message}"), body, "warden_approval_service_unavailable"),
        None => json_reply(503, body, "warden_approval_service_unavailable"),
    }
}

/// Anything else that stops the request (500; configuration mismatch).
pub fn internal(code: &str, request_id: &str) -> LocalReply {
    json_reply(500, json!({"error": code, "request_id": request_id}), "warden_approval_internal")
}
