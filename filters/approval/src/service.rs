//! Talking to the approval service: the callouts (create, wait, consume) and reading their
//! answers. Anything unexpected reads as [`Answer::Unavailable`]: the stage fails closed.

use crate::compile::Approval;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use warden_kit::facts::ApprovalRequirement;
use warden_kit::receipt::SignedReceipt;
use warden_kit::{Callout, CalloutResponse};

/// Callout tags.
pub const CREATE: &str = "approval_create";
/// Long-poll of a held request.
pub const WAIT: &str = "approval_wait";
/// Using an approval.
pub const CONSUME: &str = "approval_consume";

/// An approval as the service shows it (the fields the stage reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Shown {
    /// Id.
    pub id: String,
    /// `pending`, `approved`, `denied`, `expired`, `consumed`, `cancelled`.
    pub status: String,
    /// Where the caller can read it.
    #[serde(default)]
    pub status_url: String,
    /// Decide by, seconds since the epoch.
    #[serde(default)]
    pub decide_by: u64,
    /// A deny's or a forced decision's reason.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an answer from the service means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An approval (create, wait).
    Approval(Shown),
    /// Used: the signed receipt.
    Consumed(Box<SignedReceipt>),
    /// The service refused to consume it (`approval_used`, ...).
    Refused(String),
    /// Down, slow, or not making sense.
    Unavailable(String),
}

impl Approval {
    fn callout(&self, method: &str, path: String, body: Option<Value>, timeout: Duration, tag: &str) -> Callout {
        let mut headers = vec![("authorization".to_string(), self.authorization.clone())];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        Callout {
            cluster: self.cluster.clone(),
            method: method.into(),
            path,
            authority: self.authority.clone(),
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            timeout,
            tag: tag.into(),
        }
    }

    /// `POST /v1/approvals`.
    pub fn create(&self, digest: &str, requester: Value, action: Value, requirement: &ApprovalRequirement) -> Callout {
        let body = json!({
            "digest": digest,
            "requester": requester,
            "action": action,
            "requirement": {
                "groups": requirement.groups, "users": requirement.users,
                "min_approvals": requirement.min_approvals, "all_groups": requirement.all_groups,
                "deny_threshold": requirement.deny_threshold,
                "pending_ttl_secs": requirement.ttl_secs, "use_by_secs": requirement.use_by_secs,
                "max_auth_age_secs": requirement.max_auth_age_secs,
            }
        });
        self.callout("POST", "/v1/approvals".into(), Some(body), self.timeout, CREATE)
    }

    /// `GET /v1/approvals/{id}?wait=<secs>s`.
    pub fn wait(&self, id: &str, secs: u64) -> Callout {
        let path = format!("/v1/approvals/{}?wait={secs}s", path_safe(id));
        self.callout("GET", path, None, Duration::from_secs(secs) + self.timeout, WAIT)
    }

    /// `POST /v1/approvals/{id}/consume`.
    pub fn consume(&self, id: &str, digest: &str, subject: &str, issuer: &str) -> Callout {
        let body = json!({"digest": digest, "subject": subject, "issuer": issuer});
        self.callout("POST", format!("/v1/approvals/{}/consume", path_safe(id)), Some(body), self.timeout, CONSUME)
    }
}

/// An id as a path segment: the service's ids are `apr_` and base32; anything else is sent
/// percent-encoded and will simply not be found.
fn path_safe(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads a create or wait answer.
pub fn read_approval(response: &CalloutResponse) -> Answer {
    if !matches!(response.status, 200 | 201) {
        return Answer::Unavailable(format!("status {}", response.status));
    }
    match serde_json::from_slice::<Shown>(&response.body) {
        Ok(shown) if !shown.id.is_empty() => Answer::Approval(shown),
        _ => Answer::Unavailable("unreadable approval".into()),
    }
}

/// Reads a consume answer.
pub fn read_consume(response: &CalloutResponse) -> Answer {
    #[derive(Deserialize)]
    struct Consumed {
        receipt: SignedReceipt,
    }
    match response.status {
        200 => match serde_json::from_slice::<Consumed>(&response.body) {
            Ok(c) => Answer::Consumed(Box::new(c.receipt)),
            Err(_) => Answer::Unavailable("unreadable receipt".into()),
        },
        409 => {
            let code = serde_json::from_slice::<Value>(&response.body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
                .filter(|c| {
                    ["approval_pending", "approval_denied", "approval_expired", "approval_used", "approval_mismatch"]
                        .contains(&c.as_str())
                });
            match code {
                Some(code) => Answer::Refused(code),
                None => Answer::Unavailable("unreadable refusal".into()),
            }
        }
        status => Answer::Unavailable(format!("status {status}")),
    }
}
