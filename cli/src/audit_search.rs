//! `warden audit search`: the entries of a bundle that match a query, as timeline lines.
//! Matching is pure (a query against one entry's JSON), so it is tested without a bundle.

use serde_json::Value;
use warden_kit::approval_api::EventActor;
use warden_kit::ledger::EntryKind;

/// What to look for; every given criterion must hold (an empty query matches everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The caller's subject or any actor acting for it (exact, case-insensitive), or an
    /// approval event's actor.
    pub who: Option<String>,
    /// Text in the action: path, MCP method or tool, SQL table or class (substring,
    /// case-insensitive).
    pub action: Option<String>,
    /// The decision's effect (`allow`, `deny`, `require_approval`, ...).
    pub effect: Option<String>,
    /// The approval id (records and approval events).
    pub approval: Option<String>,
    /// The status sent downstream.
    pub status: Option<u32>,
    /// Only entries of this kind (`request`, `gap`, `intent`, `approval_event`).
    pub kind: Option<EntryKind>,
    /// Only records where something was masked.
    pub masked: bool,
    /// Only records of actions Warden refused (the record's `refused`), whatever the status.
    pub refused: bool,
    /// Entries at or after this time (milliseconds since the epoch).
    pub since_ms: Option<u64>,
    /// Entries before this time (milliseconds since the epoch).
    pub until_ms: Option<u64>,
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// When the entry happened, milliseconds since the epoch (records carry `time_ms`, approval
/// events `at` in seconds).
pub fn time_ms(entry: &Value) -> Option<u64> {
    entry["time_ms"].as_u64().or_else(|| entry["at"].as_u64().map(|s| s.saturating_mul(1000)))
}

impl Query {
    /// Whether `entry` (a record or an approval event) matches every criterion.
    pub fn matches(&self, entry: &Value) -> bool {
        // An entry without a kind is a request record, as records were first written.
        let kind = match text(&entry["kind"]) {
            "" => Some(EntryKind::Request),
            name => EntryKind::parse(name),
        };
        let time = time_ms(entry);
        self.kind.is_none_or(|k| Some(k) == kind)
            && self.since_ms.is_none_or(|since| time.is_some_and(|t| t >= since))
            && self.until_ms.is_none_or(|until| time.is_some_and(|t| t < until))
            && self.who.as_deref().is_none_or(|who| involves(entry, who))
            && self.action.as_deref().is_none_or(|action| mentions(entry, &action.to_lowercase()))
            && self.effect.as_deref().is_none_or(|effect| text(&entry["decision"]["effect"]) == effect)
            && self
                .approval
                .as_deref()
                .is_none_or(|id| text(&entry["approval"]["approval_id"]) == id || text(&entry["approval_id"]) == id)
            && self.status.is_none_or(|status| entry["outcome"]["status"].as_u64() == Some(u64::from(status)))
            && (!self.masked || masked(entry))
            && (!self.refused || entry["refused"].is_object())
    }
}

/// The subject, an actor, or an approval event's person is `who`.
fn involves(entry: &Value, who: &str) -> bool {
    let same = |v: &Value| text(v).eq_ignore_ascii_case(who);
    let record = &entry["who"];
    same(&record["subject"])
        || record["actors"].as_array().is_some_and(|actors| actors.iter().any(|a| same(&a["subject"])))
        || event_actor(entry)
            .is_some_and(|actor| matches!(actor, EventActor::Person { subject } if subject.eq_ignore_ascii_case(who)))
        || same(&entry["approval"]["approver"])
}

/// An approval event's actor (typed, or as older ledgers wrote it: `person:<subject>`).
fn event_actor(entry: &Value) -> Option<EventActor> {
    let actor = &entry["actor"];
    serde_json::from_value(actor.clone()).ok().or_else(|| actor.as_str().and_then(EventActor::parse_stored))
}

/// The path, an MCP call or the SQL statement's classes and tables mention `needle` (lower case).
fn mentions(entry: &Value, needle: &str) -> bool {
    let what = &entry["what"];
    let has = |v: &Value| text(v).to_lowercase().contains(needle);
    let any = |v: &Value| v.as_array().is_some_and(|items| items.iter().any(has));
    has(&what["path"])
        || what["action"]["mcp"]
            .as_array()
            .is_some_and(|calls| calls.iter().any(|c| has(&c["method"]) || has(&c["tool"])))
        || any(&what["action"]["sql"]["tables"])
        || any(&what["action"]["sql"]["classes"])
}

fn masked(entry: &Value) -> bool {
    ["request", "response"].iter().any(|direction| {
        entry["masking"][direction]["counts"]
            .as_object()
            .is_some_and(|counts| counts.values().any(|n| n.as_u64().unwrap_or(0) > 0))
    })
}

/// A `--kind` argument: `request`, `gap`, `intent` or `approval_event`.
pub fn parse_kind(arg: &str) -> Result<EntryKind, String> {
    EntryKind::parse(arg).ok_or_else(|| "one of request, gap, intent, approval_event".to_string())
}

/// A time argument: RFC 3339 (`2026-11-26T10:00:00Z`) or milliseconds since the epoch.
pub fn parse_time(arg: &str) -> Result<u64, String> {
    if let Ok(ms) = arg.parse::<u64>() {
        return Ok(ms);
    }
    let at: jiff::Timestamp =
        arg.parse().map_err(|e| format!("not an RFC 3339 time or milliseconds since the epoch: {e}"))?;
    u64::try_from(at.as_millisecond()).map_err(|_| "before 1970".to_string())
}

#[cfg(test)]
mod tests {
    use super::{parse_time, Query};
    use serde_json::json;
    use warden_kit::ledger::EntryKind;

    fn held_delete() -> serde_json::Value {
        json!({
            "kind": "request", "time_ms": 1_764_150_127_000u64,
            "who": {"subject": "alice@example.com", "method": "jwt",
                    "actors": [{"subject": "code-assistant"}]},
            "what": {"method": "POST", "authority": "tools", "path": "/mcp",
                     "action": {"mcp": [{"method": "tools/call", "tool": "delete_user"}]}},
            "decision": {"effect": "require_approval", "rules": ["destructive-tools"]},
            "approval": {"approval_id": "ap_1", "status": "approved", "approver": "bob@example.com"},
            "masking": {"response": {"counts": {"email": 3}}},
            "outcome": {"status": 200}
        })
    }

    #[test]
    fn times_are_rfc_3339_or_epoch_milliseconds() {
        assert_eq!(parse_time("2026-11-26T10:42:07Z"), Ok(1_795_689_727_000));
        assert_eq!(parse_time("1795689727000"), Ok(1_795_689_727_000));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn an_empty_query_matches_everything() {
        assert!(Query::default().matches(&held_delete()));
        assert!(Query::default().matches(&json!({"kind": "gap", "gap": {"dropped": 2}})));
    }

    #[test]
    fn who_matches_the_subject_an_actor_or_the_approver() {
        for who in ["alice@example.com", "ALICE@example.com", "code-assistant", "bob@example.com"] {
            let query = Query { who: Some(who.into()), ..Query::default() };
            assert!(query.matches(&held_delete()), "{who}");
        }
        let query = Query { who: Some("mallory@example.com".into()), ..Query::default() };
        assert!(!query.matches(&held_delete()));
        let event =
            json!({"kind": "approval_event", "actor": "person:bob@example.com", "approval_id": "ap_1", "at": 5});
        assert!(Query { who: Some("bob@example.com".into()), ..Query::default() }.matches(&event));
    }

    #[test]
    fn action_matches_path_tool_and_sql_tables() {
        let tool = Query { action: Some("DELETE_user".into()), ..Query::default() };
        assert!(tool.matches(&held_delete()));
        let sql = json!({"what": {"path": "/query", "action": {"sql": {"classes": ["delete"], "tables": ["orders"]}}}});
        assert!(Query { action: Some("orders".into()), ..Query::default() }.matches(&sql));
        assert!(!Query { action: Some("payments".into()), ..Query::default() }.matches(&sql));
    }

    #[test]
    fn every_criterion_must_hold() {
        let both = Query { effect: Some("require_approval".into()), status: Some(200), ..Query::default() };
        assert!(both.matches(&held_delete()));
        let wrong_status = Query { effect: Some("require_approval".into()), status: Some(403), ..Query::default() };
        assert!(!wrong_status.matches(&held_delete()));
        assert!(Query { masked: true, approval: Some("ap_1".into()), ..Query::default() }.matches(&held_delete()));
        assert!(!Query { masked: true, ..Query::default() }.matches(&json!({"outcome": {"status": 200}})));
        let refused_mcp = json!({"refused": {"by": "approval", "code": "approval_denied"}, "outcome": {"status": 200}});
        assert!(Query { refused: true, ..Query::default() }.matches(&refused_mcp), "a 200 that was a refusal");
        assert!(!Query { refused: true, ..Query::default() }.matches(&json!({"outcome": {"status": 403}})));
    }

    #[test]
    fn time_window_is_half_open_and_approval_events_count_in_seconds() {
        let at = 1_764_150_127_000u64;
        assert!(Query { since_ms: Some(at), until_ms: Some(at + 1), ..Query::default() }.matches(&held_delete()));
        assert!(!Query { until_ms: Some(at), ..Query::default() }.matches(&held_delete()));
        let event = json!({"kind": "approval_event", "at": 1_764_150_130u64});
        assert!(Query { since_ms: Some(1_764_150_130_000), ..Query::default() }.matches(&event));
        assert!(!Query { kind: Some(EntryKind::Request), ..Query::default() }.matches(&event));
    }
}
