//! The demo's upstreams, the services Warden stands in front of: an MCP tool server, a
//! SQL-over-HTTP endpoint, an OpenAI-compatible chat endpoint and a customer API. Each records
//! what reached it, so the tour can show what the upstream saw (and never saw).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What reached one upstream: one line per request (a tool call, a SQL statement, a prompt).
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    /// Everything recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The tool server: `POST /mcp`, one JSON-RPC message (`initialize`, `tools/list`,
/// `tools/call` of `list_customers` or `delete_customer`).
pub fn mcp(seen: Seen) -> Router {
    Router::new().route("/mcp", post(mcp_call)).with_state(seen)
}

async fn mcp_call(State(seen): State<Seen>, body: Bytes) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return rpc_error(Value::Null, -32700, "parse error");
    };
    let id = message["id"].clone();
    let result = match message["method"].as_str().unwrap_or("") {
        "initialize" => json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                               "serverInfo": {"name": "warden-demo-tools", "version": "1"}}),
        "tools/list" => json!({"tools": [
            {"name": "list_customers", "description": "List customers",
             "inputSchema": {"type": "object", "properties": {}}},
            {"name": "delete_customer", "description": "Delete a customer for good",
             "inputSchema": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}}]}),
        "tools/call" => {
            let name = message["params"]["name"].as_str().unwrap_or("");
            let arguments = &message["params"]["arguments"];
            let text = match name {
                "list_customers" => "customers: 7 (Carol Diaz), 42 (Dan Ito)".to_string(),
                "delete_customer" => format!("customer {} deleted", arguments["id"]),
                _ => return rpc_error(id, -32602, "unknown tool"),
            };
            seen.push(format!("tools/call {name} {arguments}"));
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        _ => return rpc_error(id, -32601, "method not found"),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

fn rpc_error(id: Value, code: i64, message: &str) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})).into_response()
}

/// The SQL endpoint: `POST /sql` with `{"query": "..."}`; a `SELECT` answers rows.
pub fn sql(seen: Seen) -> Router {
    Router::new().route("/sql", post(sql_query)).with_state(seen)
}

async fn sql_query(State(seen): State<Seen>, body: Bytes) -> Response {
    let Some(query) = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["query"].as_str().map(String::from))
    else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "expected {\"query\": \"...\"}"}))).into_response();
    };
    seen.push(query.clone());
    let answer = if query.trim_start().to_ascii_lowercase().starts_with("select") {
        json!({"rows": [{"id": 7, "name": "Carol Diaz"}, {"id": 42, "name": "Dan Ito"}]})
    } else {
        json!({"ok": true})
    };
    Json(answer).into_response()
}

/// The model: `POST /v1/chat/completions`, OpenAI's shape; it answers with what it received.
pub fn llm(seen: Seen) -> Router {
    Router::new().route("/v1/chat/completions", post(chat)).with_state(seen)
}

async fn chat(State(seen): State<Seen>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "invalid JSON"}}))).into_response();
    };
    let prompt = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string();
    seen.push(prompt.clone());
    Json(json!({
        "id": "chatcmpl-demo", "object": "chat.completion", "model": request["model"],
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": format!("(demo model) I received: {prompt}")}}]
    }))
    .into_response()
}

/// The customer API: `GET /customers/{id}`, a record with an email and a card number.
pub fn customers(seen: Seen) -> Router {
    Router::new().route("/customers/{id}", get(customer)).with_state(seen)
}

async fn customer(State(seen): State<Seen>, Path(id): Path<u64>) -> Response {
    seen.push(format!("GET /customers/{id}"));
    Json(json!({"id": id, "name": "Carol Diaz", "email": "carol.diaz@example.com",
                "card": "4111 1111 1111 1111", "plan": "enterprise"}))
    .into_response()
}
