//! The API held to its OpenAPI document, on SQLite and PostgreSQL: for every request body the
//! document describes, each documented constraint (required, no other members, type,
//! minimum, maximum, maxLength, pattern, enum) is violated in turn, and so is the rule every
//! string obeys (no NUL); each violation must get the documented 400 `invalid_request`
//! naming the field, and none may write anything. Bytes after a JSON body, query parameters
//! and path ids are checked the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::people::{person, ISSUER, PROXY_KEY};
use crate::common::tempdir::Dir;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use warden_approval_service::http::{router, App, OPENAPI};

async fn send(app: &Arc<App>, method: &str, path: &str, bearer: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The schema `reference` points to (`#/components/schemas/X`), also when it is wrapped as the
/// generated document wraps references that carry a description (`allOf: [$ref]`) or may be
/// null (`anyOf: [$ref, null]`); or `schema` itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let wrapped =
        ["allOf", "anyOf"].iter().filter_map(|k| schema[*k].as_array()).flatten().find(|s| s["$ref"].is_string());
    match wrapped.unwrap_or(schema)["$ref"].as_str() {
        Some(reference) => doc.pointer(reference.trim_start_matches('#')).unwrap(),
        None => schema,
    }
}

/// Every violation of `schema` reachable from `body`: (field path, the body with it).
fn violations(doc: &Value, schema: &Value, body: &Value, path: &str, out: &mut Vec<(String, String, Value)>) {
    let schema = resolve(doc, schema);
    let at = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    if let Some(properties) = schema["properties"].as_object() {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let mut broken = body.clone();
            broken.as_object_mut().unwrap().remove(name);
            out.push((at(name), "required".into(), broken));
        }
        if schema["additionalProperties"] == Value::Bool(false) {
            let mut broken = body.clone();
            broken.as_object_mut().unwrap().insert("unexpected_member".into(), json!(1));
            out.push((at("unexpected_member"), "additionalProperties".into(), broken));
        }
        for (name, property) in properties {
            let property = resolve(doc, property);
            let mut bad_values: Vec<(&str, Value)> = Vec::new();
            match property["type"].as_str() {
                Some("string") => bad_values.extend([("type", json!(42)), ("NUL", json!("a\u{0}b"))]),
                Some("integer") => bad_values.push(("type", json!("seven"))),
                Some("boolean") => bad_values.push(("type", json!("yes"))),
                Some("array") => bad_values.push(("type", json!("not an array"))),
                _ => {}
            }
            if let Some(minimum) = property["minimum"].as_i64() {
                bad_values.push(("minimum", json!(minimum - 1)));
            }
            if let Some(maximum) = property["maximum"].as_i64() {
                bad_values.push(("maximum", json!(maximum + 1)));
            }
            if let Some(max) = property["maxLength"].as_u64() {
                bad_values.push(("maxLength", json!("x".repeat(max as usize + 1))));
            }
            if property["pattern"].is_string() {
                bad_values.push(("pattern", json!("does-not-match")));
            }
            if property["enum"].is_array() {
                bad_values.push(("enum", json!("not-one-of-them")));
            }
            for (constraint, value) in bad_values {
                let mut broken = body.clone();
                broken[name.as_str()] = value;
                out.push((at(name), constraint.into(), broken));
            }
            // Nested objects and the first element of arrays of objects present in the body.
            if let Some(child) = body.get(name) {
                if child.is_object() {
                    let mut nested = Vec::new();
                    violations(doc, property, child, &at(name), &mut nested);
                    for (field, constraint, value) in nested {
                        let mut broken = body.clone();
                        broken[name.as_str()] = value;
                        out.push((field, constraint, broken));
                    }
                } else if let (Some(first), Some(items)) = (child.get(0), property.get("items")) {
                    let items = resolve(doc, items);
                    let mut nested = Vec::new();
                    violations(doc, items, first, &format!("{}[0]", at(name)), &mut nested);
                    for (field, constraint, value) in nested {
                        let mut broken = body.clone();
                        broken[name.as_str()][0] = value;
                        out.push((field, constraint, broken));
                    }
                    if items["type"] == "string" {
                        let mut broken = body.clone();
                        broken[name.as_str()][0] = json!("a\u{0}b");
                        out.push((format!("{}[0]", at(name)), "NUL".into(), broken));
                    }
                }
            }
        }
    }
}

fn create_body() -> Value {
    json!({
        "digest": format!("sha256:{}", "a".repeat(64)),
        "requester": {"subject": "alice", "issuer": ISSUER, "kind": "human", "actors": [{"subject": "agent-7", "kind": "agent"}]},
        "action": {"method": "POST", "authority": "db.internal", "path": "/query", "tool": "run", "rules": ["r"],
                   "reasons": ["why"], "policy": "sha256:00", "arguments": ["sql"], "sql": {"classes": ["write"], "tables": ["t"]},
                   "body": "{}", "body_truncated": false},
        "requirement": {"groups": ["dba"], "users": ["bob"], "min_approvals": 1, "all_groups": false, "deny_threshold": 1,
                        "pending_ttl_secs": 600, "use_by_secs": 300, "max_auth_age_secs": 60}
    })
}

async fn every_documented_constraint_is_enforced(database: String, dir: Dir) {
    let app = crate::common::api::service(&dir, &database).await;
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let (status, created) =
        send(&app, "POST", "/v1/approvals", PROXY_KEY, create_body().to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, before) = send(&app, "GET", "/v1/events", PROXY_KEY, vec![]).await;
    let bob = person("bob", &["dba", "breakglass"]);
    let operations: Vec<(String, &str, Value)> = vec![
        ("/v1/approvals".into(), PROXY_KEY, create_body()),
        (format!("/v1/approvals/{id}/approve"), &bob, json!({"reason": "checked"})),
        (format!("/v1/approvals/{id}/deny"), &bob, json!({"reason": "no"})),
        (format!("/v1/approvals/{id}/force"), &bob, json!({"decision": "approve", "reason": "INC-1"})),
        (
            format!("/v1/approvals/{id}/consume"),
            PROXY_KEY,
            json!({"digest": format!("sha256:{}", "a".repeat(64)), "subject": "alice", "issuer": ISSUER}),
        ),
    ];
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, bearer, base) in &operations {
        let template = path.replace(&id, "{id}");
        let schema = &doc["paths"][template.as_str()]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "{template}: no request body documented");
        let mut cases = Vec::new();
        violations(&doc, schema, base, "", &mut cases);
        let mut trailing = base.to_string().into_bytes();
        trailing.extend_from_slice(b" x");
        for (field, constraint, body) in cases
            .into_iter()
            .map(|(f, c, b)| (f, c, b.to_string().into_bytes()))
            .chain([("".to_string(), "one JSON value".to_string(), trailing)])
        {
            let (status, answer) = send(&app, "POST", path, bearer, body).await;
            let message = answer["error"]["message"].as_str().unwrap_or("");
            let last = field.rsplit('.').next().unwrap_or("").trim_end_matches("[0]");
            let named = last.is_empty() || message.contains(last);
            if status != StatusCode::BAD_REQUEST || answer["error"]["code"] != "invalid_request" || !named {
                wrong.push(format!("{template} {field} ({constraint}): {status} {answer}"));
            }
            checked += 1;
        }
    }
    // The path id and the event log's query.
    for (path, bearer, field) in [
        ("/v1/approvals/apr_%00x", PROXY_KEY, "id"),
        ("/v1/approvals/apr_%00x/approve", bob.as_str(), "id"),
        ("/v1/approvals/apr_%00x/consume", PROXY_KEY, "id"),
        ("/v1/events?limit=1001", PROXY_KEY, "limit"),
        ("/v1/events?limit=0", PROXY_KEY, "limit"),
        ("/v1/events?after=x", PROXY_KEY, "after"),
    ] {
        let method = if path.starts_with("/v1/events") || !path.contains("/approve") && !path.contains("/consume") {
            "GET"
        } else {
            "POST"
        };
        let body = if method == "POST" { b"{}".to_vec() } else { vec![] };
        let (status, answer) = send(&app, method, path, bearer, body).await;
        if status != StatusCode::BAD_REQUEST || !answer["error"]["message"].as_str().unwrap_or("").contains(field) {
            wrong.push(format!("{method} {path}: {status} {answer}"));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{} of {checked} violations answered wrongly:\n{}", wrong.len(), wrong.join("\n"));
    assert!(checked >= 60, "only {checked} violations");
    let (_, after) = send(&app, "GET", "/v1/events", PROXY_KEY, vec![]).await;
    assert_eq!(before, after, "a refused request wrote nothing");
    let (status, _) = send(&app, "GET", "/healthz", PROXY_KEY, vec![]).await;
    assert_eq!(status, StatusCode::OK, "the database is not reported down");
}

#[tokio::test]
async fn every_documented_constraint_is_enforced_on_sqlite() {
    let dir = Dir::new();
    let database = format!("sqlite://{}", dir.path.join("a.db").display());
    every_documented_constraint_is_enforced(database, dir).await;
}

#[tokio::test]
async fn every_documented_constraint_is_enforced_on_postgres() {
    if warden_testdb::postgres_absent() {
        return;
    }
    every_documented_constraint_is_enforced(crate::common::postgres_url().await, Dir::new()).await;
}
