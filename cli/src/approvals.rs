//! `warden approvals`: people's terminal client of the approval service (list, show, approve,
//! deny, force), authenticated with the person's bearer token. It speaks the service's API
//! through its types ([`warden_kit::approval_api`]).

use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;
use warden_kit::approval_api::{ApprovalList, ApprovalView, DecideBody, ErrorBody, ForceBody, VoteDecision};

/// Where the service is and who is asking.
pub struct Client {
    /// Base URL (`http://127.0.0.1:8731`).
    pub url: String,
    /// Bearer token (never printed).
    pub token: String,
}

impl Client {
    /// Calls `method path` (with `body` as JSON for a POST) and reads a `T` from a 2xx answer;
    /// any other answer is an error carrying the service's code and message.
    fn call<T: DeserializeOwned>(&self, method: &str, path: &str, body: Option<&impl Serialize>) -> anyhow::Result<T> {
        let agent = warden_service_shared::http_client::agent(None);
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("authorization", &auth).call(),
            (_, body) => agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body.map(serde_json::to_string).transpose()?.unwrap_or_else(|| "{}".into())),
        }
        .with_context(|| format!("cannot reach the approval service at {}", self.url))?;
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().context("reading the answer")?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<ErrorBody>(&text) {
                Ok(e) => anyhow!("{status} {}: {}", e.error.code, e.error.message),
                Err(_) => anyhow!("{status} error: the service's answer is not an error body"),
            });
        }
        serde_json::from_str(&text).with_context(|| format!("the service's answer to {method} {path} is unreadable"))
    }
}

fn line(a: &ApprovalView) -> String {
    let (approval, action) = (&a.approval, &a.approval.action);
    let tool = action.tool.as_ref().map(|t| format!(" tool {t}")).unwrap_or_default();
    format!(
        "{}  {:<9} {} {}{}{}  by {}  rules {}",
        approval.id,
        approval.status.as_str(),
        action.method,
        action.authority,
        action.path,
        tool,
        approval.requester.subject,
        action.rules.join(",")
    )
}

/// Prints the pending approvals the caller may decide.
pub fn list(client: &Client) -> anyhow::Result<bool> {
    let list: ApprovalList = client.call("GET", "/v1/approvals", None::<&()>)?;
    if list.approvals.is_empty() {
        println!("no pending approvals for you");
    }
    for a in &list.approvals {
        println!("{}", line(a));
    }
    Ok(true)
}

/// Prints one approval in full.
pub fn show(client: &Client, id: &str) -> anyhow::Result<bool> {
    let view: ApprovalView = client.call("GET", &format!("/v1/approvals/{id}"), None::<&()>)?;
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(true)
}

/// What a person decides from the terminal.
pub enum Decision {
    /// A vote to approve, with an optional reason.
    Approve(Option<String>),
    /// A vote to deny (the service requires the reason).
    Deny(Option<String>),
    /// A break-glass decision (break-glass group only, reason required).
    Force(VoteDecision, String),
}

/// Approves, denies or forces, and prints the approval's status after it.
pub fn decide(client: &Client, id: &str, decision: Decision) -> anyhow::Result<bool> {
    let view: ApprovalView = match decision {
        Decision::Approve(reason) => {
            client.call("POST", &format!("/v1/approvals/{id}/approve"), Some(&DecideBody { reason }))?
        }
        Decision::Deny(reason) => {
            client.call("POST", &format!("/v1/approvals/{id}/deny"), Some(&DecideBody { reason }))?
        }
        Decision::Force(decision, reason) => {
            client.call("POST", &format!("/v1/approvals/{id}/force"), Some(&ForceBody { decision, reason }))?
        }
    };
    let forced = if view.approval.forced { " (forced)" } else { "" };
    println!("{id}: {}{forced}", view.approval.status.as_str());
    Ok(true)
}
