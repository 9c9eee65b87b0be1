//! Slack: a Block Kit message per approval (the context, Approve/Deny buttons with a confirm
//! dialog on approve, a link to the web page), updated after every decision from any channel
//! on any replica (`chat.update`, with the message's channel and ts in the database); and the
//! interactivity endpoint (`POST /slack/interactions`), which verifies Slack's request
//! signature before reading anything, answers at once and decides in the background as the
//! person whose *verified* email (Slack's `users.info`) matches a person the identity provider
//! verified at their last web login. Nobody can link a Slack account to an identity by saying
//! so.

use super::notice::plain;
use crate::core::approval::Approval;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// Oldest request timestamp accepted, seconds (Slack's advice: five minutes).
pub const MAX_AGE_SECS: u64 = 300;

/// Text for Slack's `mrkdwn`: `&`, `<` and `>` escaped (so a crafted value cannot mention
/// `@channel` or forge `<url|text>` links), then Markdown specials escaped too.
pub fn mrkdwn(text: &str) -> String {
    plain(text)
}

/// Whether `signature` (`X-Slack-Signature`) is `v0=` and the hex HMAC-SHA256 of
/// `v0:<timestamp>:<body>` under `secret`, and `timestamp` (`X-Slack-Request-Timestamp`) is
/// within [`MAX_AGE_SECS`] of `now`. Constant-time comparison.
pub fn verify_signature(secret: &[u8], timestamp: &str, body: &[u8], signature: &str, now: u64) -> bool {
    let Ok(ts) = timestamp.parse::<u64>() else { return false };
    if now.abs_diff(ts) > MAX_AGE_SECS {
        return false;
    }
    let Some(hex) = signature.strip_prefix("v0=") else { return false };
    let Some(given) = decode_hex(hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The message for an approval (`buttons`: while it is pending): `text` and `blocks`.
pub fn message(approval: &Approval, page_url: &str, now: u64) -> Value {
    let a = &approval.action;
    let status = format!("{:?}", approval.status_at(now)).to_lowercase();
    let pending = status == "pending";
    let mut who = String::new();
    for actor in &approval.requester.actors {
        who.push_str(&format!("{} acting for ", mrkdwn(&actor.subject)));
    }
    who.push_str(&mrkdwn(&approval.requester.subject));
    let mut action = format!("`{} {}{}`", mrkdwn(&a.method), mrkdwn(&a.authority), mrkdwn(&a.path));
    if let Some(tool) = &a.tool {
        action.push_str(&format!(" (tool `{}`)", mrkdwn(tool)));
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*Approval {}*: {who} wants {action}", if pending { "needed" } else { status.as_str() })}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Rule*\n{}", mrkdwn(&a.rules.join(", ")))},
            {"type": "mrkdwn", "text": format!("*Why*\n{}", mrkdwn(&a.reasons.join("; ")))},
            {"type": "mrkdwn", "text": format!("*Approvers*\n{}", mrkdwn(&approval.requirement.groups.join(", ")))},
            {"type": "mrkdwn", "text": format!("*Approval*\n{} ({status})", approval.id)}
        ]}),
    ];
    if let Some(body) = &a.body {
        let mut shown: String = body.chars().take(600).collect();
        if a.body_truncated || body.chars().count() > 600 {
            shown.push('…');
        }
        // Masked by the service before it was stored; escaped so it cannot mention or link.
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*Body (masked)*\n{}", mrkdwn(&shown))}}));
    }
    let votes: Vec<String> =
        approval.votes.iter().map(|v| format!("{} {:?}d", mrkdwn(&v.subject), v.decision).to_lowercase()).collect();
    if !votes.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": votes.join(", ")}]}));
    }
    let mut elements = vec![
        json!({"type": "button", "action_id": "open", "text": {"type": "plain_text", "text": "Open"}, "url": page_url}),
    ];
    if pending {
        elements.insert(
            0,
            json!({"type": "button", "action_id": "deny", "style": "danger", "value": approval.id,
                                  "text": {"type": "plain_text", "text": "Deny"}}),
        );
        elements.insert(
            0,
            json!({"type": "button", "action_id": "approve", "style": "primary", "value": approval.id,
            "text": {"type": "plain_text", "text": "Approve"},
            "confirm": {"title": {"type": "plain_text", "text": "Approve this action?"},
                        "text": {"type": "mrkdwn", "text": action},
                        "confirm": {"type": "plain_text", "text": "Approve"},
                        "deny": {"type": "plain_text", "text": "Cancel"}}}),
        );
    }
    blocks.push(json!({"type": "actions", "elements": elements}));
    json!({"text": format!("Approval {status}: {} {}{}", a.method, a.authority, a.path), "blocks": blocks})
}

/// Why a call to Slack's Web API failed. Never holds the token or the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack could not be reached (timeout, DNS, connection, I/O).
    #[error("{0}")]
    Transport(String),
    /// The answer's body could not be read.
    #[error("unreadable answer")]
    Unreadable,
    /// The answer was not JSON.
    #[error("{method} answered {status}")]
    NotJson {
        /// The Web API method.
        method: String,
        /// The HTTP status.
        status: u16,
    },
    /// Slack answered `ok: false` with this error code.
    #[error("{method}: {code}")]
    Refused {
        /// The Web API method.
        method: String,
        /// Slack's error code (`channel_not_found`, ...).
        code: String,
    },
    /// The user is deleted or a bot.
    #[error("not an active person")]
    NotAPerson,
    /// The user has no email the bot may read.
    #[error("no email (scope users:read.email?)")]
    NoEmail,
}

impl From<SlackError> for String {
    fn from(error: SlackError) -> String {
        error.to_string()
    }
}

/// A call to the Slack Web API (`method`, e.g. `chat.postMessage`) with the bot token: the
/// answer when `ok` is true, else Slack's error code (or a transport error, without the URL).
pub fn call(api: &str, token: &str, method: &str, body: &Value, timeout: Duration) -> Result<Value, SlackError> {
    let agent = warden_service_shared::http_client::agent(Some(timeout));
    let mut response = agent
        .post(&format!("{}/{method}", api.trim_end_matches('/')))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "application/json; charset=utf-8")
        .send(body.to_string().as_bytes())
        .map_err(|e| SlackError::Transport(super::describe(&e)))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|_| SlackError::Unreadable)?;
    let answer: Value =
        serde_json::from_str(&text).map_err(|_| SlackError::NotJson { method: method.into(), status })?;
    if answer["ok"].as_bool() == Some(true) {
        Ok(answer)
    } else {
        Err(refused(method, &answer))
    }
}

fn refused(method: &str, answer: &Value) -> SlackError {
    SlackError::Refused { method: method.into(), code: answer["error"].as_str().unwrap_or("error").into() }
}

/// The verified email of a Slack user (`users.info`, scope `users:read.email`).
pub fn email_of(api: &str, token: &str, user: &str, timeout: Duration) -> Result<String, SlackError> {
    let agent = warden_service_shared::http_client::agent(Some(timeout));
    let mut response = agent
        .get(&format!("{}/users.info", api.trim_end_matches('/')))
        .query("user", user)
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| SlackError::Transport(super::describe(&e)))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|_| SlackError::Unreadable)?;
    let answer: Value =
        serde_json::from_str(&text).map_err(|_| SlackError::NotJson { method: "users.info".into(), status })?;
    if answer["ok"].as_bool() != Some(true) {
        return Err(refused("users.info", &answer));
    }
    let user = &answer["user"];
    if user["deleted"].as_bool() == Some(true) || user["is_bot"].as_bool() == Some(true) {
        return Err(SlackError::NotAPerson);
    }
    user["profile"]["email"].as_str().map(str::to_owned).ok_or(SlackError::NoEmail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_as_slack_documents_them() {
        // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert!(verify_signature(secret, "1531420618", body, signature, 1531420618 + 10));
        assert!(!verify_signature(secret, "1531420618", body, signature, 1531420618 + 301), "too old");
        assert!(!verify_signature(secret, "1531420619", body, signature, 1531420618), "another timestamp");
        assert!(!verify_signature(b"another secret", "1531420618", body, signature, 1531420618));
        assert!(!verify_signature(secret, "1531420618", body, "v1=00", 1531420618));
    }

    #[test]
    fn crafted_text_cannot_mention_everyone_or_forge_links() {
        let text = mrkdwn("<!channel> <https://evil.example|click> & more");
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        assert!(text.contains("&lt;") && text.contains("&amp;"), "{text}");
    }
}
