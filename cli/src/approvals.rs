//! `warden approvals`: people's terminal client of the approval service (list, show, approve,
//! deny, force), authenticated with the person's bearer token.

use anyhow::{anyhow, Context};
use serde_json::{json, Value};

/// Where the service is and who is asking.
pub struct Client {
    /// Base URL (`http://127.0.0.1:8731`).
    pub url: String,
    /// Bearer token (never printed).
    pub token: String,
}

impl Client {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("authorization", &auth).call(),
            (_, body) => agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        }
        .with_context(|| format!("cannot reach the approval service at {}", self.url))?;
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().context("reading the answer")?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn expect_ok(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let (status, value) = self.call(method, path, body)?;
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value["error"]["code"].as_str().unwrap_or("error");
        let message = value["error"]["message"].as_str().unwrap_or("");
        Err(anyhow!("{status} {code}: {message}"))
    }
}

fn line(a: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let action = &a["action"];
    let tool = action["tool"].as_str().map(|t| format!(" tool {t}")).unwrap_or_default();
    format!(
        "{}  {:<9} {} {}{}{}  by {}  rules {}",
        s(&a["id"]),
        s(&a["status"]),
        s(&action["method"]),
        s(&action["authority"]),
        s(&action["path"]),
        tool,
        s(&a["requester"]["subject"]),
        action["rules"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    )
}

/// Prints the pending approvals the caller may decide.
pub fn list(client: &Client) -> anyhow::Result<bool> {
    let value = client.expect_ok("GET", "/v1/approvals", None)?;
    let approvals = value["approvals"].as_array().cloned().unwrap_or_default();
    if approvals.is_empty() {
        println!("no pending approvals for you");
    }
    for a in &approvals {
        println!("{}", line(a));
    }
    Ok(true)
}

/// Prints one approval in full.
pub fn show(client: &Client, id: &str) -> anyhow::Result<bool> {
    let value = client.expect_ok("GET", &format!("/v1/approvals/{id}"), None)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(true)
}

/// Approves, denies or forces.
pub fn decide(client: &Client, id: &str, verb: &str, body: Value) -> anyhow::Result<bool> {
    let value = client.expect_ok("POST", &format!("/v1/approvals/{id}/{verb}"), Some(body))?;
    let forced = if value["forced"].as_bool() == Some(true) { " (forced)" } else { "" };
    println!("{id}: {}{forced}", value["status"].as_str().unwrap_or("?"));
    Ok(true)
}
