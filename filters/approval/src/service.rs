//! Talking to the approval service: the callouts (create, wait, consume) and reading their
//! answers. Anything unexpected reads as [`Answer::Unavailable`]: the stage fails closed.

use crate::compile::Approval;
use serde::Serialize;
use std::time::Duration;
use warden_kit::approval_api::{
    Action, ApprovalView, ConsumeRefusal, ConsumeRequest, Consumed, CreateApproval, ErrorBody, Requester, Requirement,
};
use warden_kit::receipt::SignedReceipt;
use warden_kit::{Callout, CalloutResponse};

/// Callout tags.
pub const CREATE: &str = "approval_create";
/// Long-poll of a held request.
pub const WAIT: &str = "approval_wait";
/// Using an approval.
pub const CONSUME: &str = "approval_consume";

/// What an answer from the service means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An approval (create, wait).
    Approval(Box<ApprovalView>),
    /// Used: the signed receipt.
    Consumed(Box<SignedReceipt>),
    /// The service refused to consume it.
    Refused(ConsumeRefusal),
    /// Down, slow, or not making sense.
    Unavailable(String),
}

impl Approval {
    fn callout(&self, method: &str, path: String, body: Option<Vec<u8>>, timeout: Duration, tag: &str) -> Callout {
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
            body: body.unwrap_or_default(),
            timeout,
            tag: tag.into(),
        }
    }

    /// `POST /v1/approvals`.
    pub fn create(&self, digest: &str, requester: Requester, action: Action, requirement: &Requirement) -> Callout {
        let body = CreateApproval { digest: digest.into(), requester, action, requirement: requirement.clone() };
        self.callout("POST", "/v1/approvals".into(), Some(json_bytes(&body)), self.timeout, CREATE)
    }

    /// `GET /v1/approvals/{id}?wait=<secs>s`.
    pub fn wait(&self, id: &str, secs: u64) -> Callout {
        let path = format!("/v1/approvals/{}?wait={secs}s", path_safe(id));
        self.callout("GET", path, None, Duration::from_secs(secs) + self.timeout, WAIT)
    }

    /// `POST /v1/approvals/{id}/consume`.
    pub fn consume(&self, id: &str, digest: &str, subject: &str, issuer: &str) -> Callout {
        let body = ConsumeRequest { digest: digest.into(), subject: subject.into(), issuer: issuer.into() };
        let path = format!("/v1/approvals/{}/consume", path_safe(id));
        self.callout("POST", path, Some(json_bytes(&body)), self.timeout, CONSUME)
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

/// A request body as JSON. The contract's types serialize infallibly (strings, numbers and
/// maps with string keys); an empty body, which the service refuses, stands in otherwise.
fn json_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// Reads a create or wait answer.
pub fn read_approval(response: &CalloutResponse) -> Answer {
    if !matches!(response.status, 200 | 201) {
        return Answer::Unavailable(format!("status {}", response.status));
    }
    match serde_json::from_slice::<ApprovalView>(&response.body) {
        Ok(view) if !view.approval.id.is_empty() => Answer::Approval(Box::new(view)),
        _ => Answer::Unavailable("unreadable approval".into()),
    }
}

/// Reads a consume answer: 200 with the receipt, or 409 with a consume refusal's code.
pub fn read_consume(response: &CalloutResponse) -> Answer {
    match response.status {
        200 => match serde_json::from_slice::<Consumed>(&response.body) {
            Ok(consumed) => Answer::Consumed(Box::new(consumed.receipt)),
            Err(_) => Answer::Unavailable("unreadable receipt".into()),
        },
        409 => {
            match serde_json::from_slice::<ErrorBody>(&response.body).ok().and_then(|e| e.error.code.consume_refusal())
            {
                Some(refusal) => Answer::Refused(refusal),
                None => Answer::Unavailable("unreadable refusal".into()),
            }
        }
        status => Answer::Unavailable(format!("status {status}")),
    }
}
