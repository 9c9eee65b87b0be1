//! What the channels are told, built from the event log and the approval: the webhook event
//! (`approval.created`, `approval.decided`, `approval.expired`, `approval.consumed`) and the
//! Teams card. Pure. Nothing secret is in either: no token, header value or body; only the
//! action's method, host, path, tool, rules and reasons, the people involved and the times.

use crate::core::approval::Approval;
use crate::core::event::Event;
use serde_json::{json, Value};

/// The event types webhooks can subscribe to.
pub const EVENT_TYPES: [&str; 4] = ["approval.created", "approval.decided", "approval.expired", "approval.consumed"];

/// The notice type of an approval event, if channels hear about it.
pub fn notice_type(event: &Event) -> Option<&'static str> {
    match event.kind.as_str() {
        "created" => Some("approval.created"),
        "approved" | "denied" => Some("approval.decided"),
        "expired" => Some("approval.expired"),
        "consumed" => Some("approval.consumed"),
        _ => None,
    }
}

/// The approval as webhooks carry it (`data`), with the link to its web page.
pub fn approval_data(approval: &Approval, page_url: &str, now: u64) -> Value {
    let a = &approval.action;
    json!({
        "id": approval.id,
        "status": approval.status_at(now),
        "requester": {"subject": approval.requester.subject, "issuer": approval.requester.issuer,
                      "actors": approval.requester.actors.iter().map(|x| &x.subject).collect::<Vec<_>>()},
        "action": {"method": a.method, "authority": a.authority, "path": a.path, "tool": a.tool,
                   "rules": a.rules, "reasons": a.reasons, "policy": a.policy},
        "approvers": {"groups": approval.requirement.groups, "users": approval.requirement.users,
                      "min_approvals": approval.requirement.min_approvals},
        "digest": approval.digest,
        "created_at": approval.created_at,
        "decide_by": approval.decide_by,
        "decided_at": approval.decided_at,
        "use_by": approval.use_by,
        "consumed_at": approval.consumed_at,
        "forced": approval.forced,
        "votes": approval.votes.iter().map(|v| json!({"subject": v.subject, "decision": v.decision, "at": v.at,
                                                       "forced": v.forced})).collect::<Vec<_>>(),
        "url": page_url,
    })
}

/// A webhook body: `{"type", "timestamp", "data"}` (Standard Webhooks' shape).
pub fn webhook_body(kind: &str, approval: &Approval, page_url: &str, now: u64) -> String {
    let timestamp = i64::try_from(now)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    json!({"type": kind, "timestamp": timestamp, "data": approval_data(approval, page_url, now)}).to_string()
}

/// Text from requests made safe for Markdown-rendering chat clients: characters that make
/// links, emphasis, mentions or HTML are escaped, so a crafted path cannot forge a link.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '`' | '~' | '#' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{200b}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Adaptive Card (1.4) posted to a Teams Workflows webhook: the context, and a button to
/// the web page, where the person decides (signed in).
pub fn teams_card(kind: &str, approval: &Approval, page_url: &str, now: u64) -> String {
    let a = &approval.action;
    let who = {
        let mut who = String::new();
        for actor in &approval.requester.actors {
            who.push_str(&plain(&actor.subject));
            who.push_str(" acting for ");
        }
        who.push_str(&plain(&approval.requester.subject));
        who
    };
    let title = match kind {
        "approval.created" => "Approval needed".to_string(),
        _ => format!("Approval {}", format!("{:?}", approval.status_at(now)).to_lowercase()),
    };
    let mut action = format!("{} {}{}", plain(&a.method), plain(&a.authority), plain(&a.path));
    if let Some(tool) = &a.tool {
        action.push_str(&format!(" (tool {})", plain(tool)));
    }
    let facts = vec![
        json!({"title": "Requested by", "value": who}),
        json!({"title": "Action", "value": action}),
        json!({"title": "Rule", "value": plain(&a.rules.join(", "))}),
        json!({"title": "Why", "value": plain(&a.reasons.join("; "))}),
        json!({"title": "Approvers", "value": plain(&approval.requirement.groups.join(", "))}),
        json!({"title": "Approval", "value": approval.id}),
    ];
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": title, "wrap": true},
                    {"type": "FactSet", "facts": facts}
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open to decide", "url": page_url}]
            }
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn crafted_text_cannot_make_links_mentions_or_html() {
        let text = plain("[click](https://evil.example) <b>@channel</b> **x**");
        assert!(!text.contains("[click]("), "{text}");
        assert!(!text.contains("<b>") && !text.contains("@channel"), "{text}");
        assert_eq!(plain("/orders/42"), "/orders/42");
    }
}
