//! `POST /slack/interactions`: Slack's button clicks. The request signature is verified
//! before the body is read for anything else (bad or old: 401, and nothing is parsed); the
//! answer is sent at once (Slack waits 3 seconds) and the decision is made in the background:
//! the clicking user's verified email (`users.info`) must match exactly one person the
//! identity provider verified at a web login, who then votes with channel `slack` under the
//! same rules as everywhere else. Refusals (unknown user, the requester, not named, already
//! voted: a replayed payload) are answered ephemerally and appended to the approval's history.

use super::slack::{email_of, verify_signature};
use super::SlackTarget;
use crate::core::decide::VoteRequest;
use crate::core::tally::VoteDecision;
use crate::http::App;
use crate::store::Ballot;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// The endpoint.
pub async fn slack(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = crate::unix_now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (timestamp, signature) = (header("x-slack-request-timestamp"), header("x-slack-signature"));
    let target = app
        .channels
        .slack()
        .find(|t| verify_signature(t.signing_secret.as_bytes(), &timestamp, &body, &signature, now))
        .cloned();
    let Some(target) = target else {
        eprintln!("warden approvals: a Slack interaction was refused: bad or expired signature");
        return StatusCode::UNAUTHORIZED;
    };
    let payload: Option<Value> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "payload"))
        .and_then(|(_, v)| serde_json::from_str(&v).ok());
    let Some(payload) = payload else { return StatusCode::BAD_REQUEST };
    tokio::spawn(async move { decide(app, target, payload).await });
    StatusCode::OK
}

/// Answers the clicking user only (`response_url`, when it points where Slack's do).
async fn reply(app: &App, target: &SlackTarget, payload: &Value, text: String) {
    let Some(url) = payload["response_url"].as_str().filter(|u| u.starts_with(&target.response_url_prefix)) else {
        return;
    };
    let (url, timeout) = (url.to_string(), app.channels.timeout());
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text}).to_string();
    let _ = tokio::task::spawn_blocking(move || {
        let agent = warden_service_shared::http_client::agent(Some(timeout));
        agent.post(&url).header("content-type", "application/json").send(body.as_bytes()).map(|_| ())
    })
    .await;
}

async fn refuse(app: &App, target: &SlackTarget, payload: &Value, approval_id: &str, reason: &str, text: String) {
    let detail = json!({"channel": "slack", "slack_user": payload["user"]["id"], "reason": reason});
    if let Err(e) = app.store.record_refused_vote(approval_id, detail, crate::unix_now()).await {
        eprintln!("warden approvals: recording a refused Slack decision: {e}");
    }
    reply(app, target, payload, text).await;
}

async fn decide(app: Arc<App>, target: SlackTarget, payload: Value) {
    if payload["type"].as_str() != Some("block_actions") {
        return;
    }
    let action = &payload["actions"][0];
    let decision = match action["action_id"].as_str() {
        Some("approve") => VoteDecision::Approve,
        Some("deny") => VoteDecision::Deny,
        _ => return, // "Open" (a link) and anything else
    };
    let Some(approval_id) = action["value"].as_str().map(str::to_owned) else { return };
    let Some(user) = payload["user"]["id"].as_str().map(str::to_owned) else { return };
    let (api, token, timeout) = (target.api.clone(), target.token.clone(), app.channels.timeout());
    let email = tokio::task::spawn_blocking(move || email_of(&api, &token, &user, timeout))
        .await
        .unwrap_or_else(|_| Err(super::slack::SlackError::Transport("lookup did not finish".into())));
    let email = match email {
        Ok(email) => email,
        Err(why) => {
            let text = format!("Warden cannot tell who you are from Slack ({why}); nothing was recorded.");
            return refuse(&app, &target, &payload, &approval_id, "unknown_user", text).await;
        }
    };
    let people = match app.store.people_by_email(&email).await {
        Ok(people) => people,
        Err(_) => {
            return reply(&app, &target, &payload, "The approval service is unavailable; try again.".into()).await
        }
    };
    let [person] = people.as_slice() else {
        let page = format!("{}/ui/approvals/{approval_id}", app.service.public_url);
        let text = if people.is_empty() {
            format!("Warden does not know your Slack email yet: sign in once at {page}, then click again.")
        } else {
            format!("Your email matches more than one identity: decide at {page}.")
        };
        let reason = if people.is_empty() { "unknown_user" } else { "ambiguous_user" };
        return refuse(&app, &target, &payload, &approval_id, reason, text).await;
    };
    let reason = (decision == VoteDecision::Deny).then(|| "denied in Slack".to_string());
    let request = VoteRequest { decision, reason, force: false };
    let ballot = Ballot { who: person, request, source: None, channel: "slack", auth_time: None };
    match app.store.vote(&approval_id, ballot, crate::unix_now(), &app.rules).await {
        Ok(approval) => {
            let status = format!("{:?}", approval.status_at(crate::unix_now())).to_lowercase();
            let verb = if decision == VoteDecision::Approve { "approved" } else { "denied" };
            reply(&app, &target, &payload, format!("You {verb} {approval_id} (now {status}).")).await;
        }
        Err(e) => {
            let text = format!("Not recorded: {e}");
            refuse(&app, &target, &payload, &approval_id, &e.to_string(), text).await;
        }
    }
}
