//! What the evidence ledger holds, as one type: every entry is an audit record from a proxy
//! (`request`, `gap`, `intent`: [`AuditRecord`]) or an approval service event
//! ([`ApprovalEventEntry`]). The ledger, the auditor's tools and the harness read entries
//! through [`LedgerEntry`] instead of comparing `kind` strings.
//!
//! ```
//! use warden_kit::ledger::{EntryKind, LedgerEntry};
//! let text = r#"{"actor":{"subject":"bob","type":"person"},"approval_id":"apr_1","at":5,"detail":{},"event":"approved","kind":"approval_event","seq":1,"source":null,"v":1}"#;
//! let entry: LedgerEntry = serde_json::from_str(text).unwrap();
//! assert_eq!(entry.kind(), EntryKind::ApprovalEvent);
//! ```

use crate::approval_api::{Event, EventActor, EventKind};
use crate::audit::{AuditRecord, RecordKind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Shape version of [`ApprovalEventEntry`].
pub const APPROVAL_EVENT_VERSION: u32 = 1;

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEntry {
    /// An audit record a proxy sent (its `kind`: request, gap or intent).
    Record(Box<AuditRecord>),
    /// An event of the approval service's log, copied by the ledger.
    ApprovalEvent(ApprovalEventEntry),
}

/// The kinds of entry, as their `kind` member names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    /// One request, whatever happened to it.
    Request,
    /// Records a proxy's stream dropped.
    Gap,
    /// A strict route's request, recorded before it was let through.
    Intent,
    /// An approval service event.
    ApprovalEvent,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 4] = [EntryKind::Request, EntryKind::Gap, EntryKind::Intent, EntryKind::ApprovalEvent];

    /// The `kind` member's value (`request`, `gap`, `intent`, `approval_event`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Request => "request",
            EntryKind::Gap => "gap",
            EntryKind::Intent => "intent",
            EntryKind::ApprovalEvent => "approval_event",
        }
    }

    /// Parses [`EntryKind::as_str`]'s names; `None` for anything else.
    pub fn parse(name: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl From<RecordKind> for EntryKind {
    fn from(kind: RecordKind) -> EntryKind {
        match kind {
            RecordKind::Request => EntryKind::Request,
            RecordKind::Gap => EntryKind::Gap,
            RecordKind::Intent => EntryKind::Intent,
        }
    }
}

impl LedgerEntry {
    /// The entry's kind.
    pub fn kind(&self) -> EntryKind {
        match self {
            LedgerEntry::Record(record) => record.kind.into(),
            LedgerEntry::ApprovalEvent(_) => EntryKind::ApprovalEvent,
        }
    }

    /// When it happened, milliseconds since the epoch (approval events are kept to the second).
    pub fn time_ms(&self) -> u64 {
        match self {
            LedgerEntry::Record(record) => record.time_ms,
            LedgerEntry::ApprovalEvent(event) => event.at.saturating_mul(1000),
        }
    }
}

impl Serialize for LedgerEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LedgerEntry::Record(record) => record.serialize(serializer),
            LedgerEntry::ApprovalEvent(event) => event.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LedgerEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        if EntryKind::parse(kind) == Some(EntryKind::ApprovalEvent) {
            serde_json::from_value(value).map(LedgerEntry::ApprovalEvent).map_err(serde::de::Error::custom)
        } else {
            serde_json::from_value(value).map(|r| LedgerEntry::Record(Box::new(r))).map_err(serde::de::Error::custom)
        }
    }
}

/// The `kind` of an [`ApprovalEventEntry`]: always `approval_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalEventTag {
    /// `approval_event`.
    #[serde(rename = "approval_event")]
    ApprovalEvent,
}

/// An approval service event as the ledger stores it (its canonical JSON is the leaf data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalEventEntry {
    /// Always `approval_event`.
    pub kind: ApprovalEventTag,
    /// Shape version ([`APPROVAL_EVENT_VERSION`]).
    pub v: u32,
    /// Position in the approval service's log (the entry's sequence number in the
    /// `approval-events` stream).
    pub seq: i64,
    /// The approval it is about.
    pub approval_id: String,
    /// When, seconds since the epoch.
    pub at: u64,
    /// Who made the change. Ledgers written before the actor was typed hold it as
    /// `person:<subject>` / `proxy:<name>` / `service`; both read.
    #[serde(deserialize_with = "actor_either_form")]
    pub actor: EventActor,
    /// What happened.
    pub event: EventKind,
    /// Details (no secrets).
    pub detail: Value,
    /// The caller's address, when it came from the network.
    pub source: Option<String>,
}

impl From<Event> for ApprovalEventEntry {
    fn from(e: Event) -> ApprovalEventEntry {
        ApprovalEventEntry {
            kind: ApprovalEventTag::ApprovalEvent,
            v: APPROVAL_EVENT_VERSION,
            seq: e.seq,
            approval_id: e.approval_id,
            at: e.at,
            actor: e.actor,
            event: e.kind,
            detail: e.detail,
            source: e.source,
        }
    }
}

fn actor_either_form<'de, D: Deserializer<'de>>(deserializer: D) -> Result<EventActor, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Typed(EventActor),
        Stored(String),
    }
    match Either::deserialize(deserializer)? {
        Either::Typed(actor) => Ok(actor),
        Either::Stored(text) => EventActor::parse_stored(&text)
            .ok_or_else(|| serde::de::Error::custom("actor: `person:<subject>`, `proxy:<name>` or `service`")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn an_approval_event_reads_typed_and_writes_back_the_same_bytes() {
        let text = r#"{"actor":{"subject":"bob","type":"person"},"approval_id":"apr_1","at":5,"detail":{"channel":"web"},"event":"voted","kind":"approval_event","seq":3,"source":"127.0.0.1:9","v":1}"#;
        let entry: LedgerEntry = serde_json::from_str(text).unwrap();
        let LedgerEntry::ApprovalEvent(event) = &entry else { panic!("not an event") };
        assert_eq!((event.event, &event.actor), (EventKind::Voted, &EventActor::Person { subject: "bob".into() }));
        assert_eq!(crate::canonical::to_vec(&entry).unwrap(), text.as_bytes());
    }

    #[test]
    fn an_older_ledger_s_actor_string_still_reads() {
        let old = json!({"kind": "approval_event", "v": 1, "seq": 1, "approval_id": "apr_1", "at": 5,
                         "actor": "proxy:envoy", "event": "created", "detail": {}, "source": null});
        let LedgerEntry::ApprovalEvent(event) = serde_json::from_value(old).unwrap() else { panic!() };
        assert_eq!(event.actor, EventActor::Proxy { name: "envoy".into() });
        let bad = json!({"kind": "approval_event", "v": 1, "seq": 1, "approval_id": "a", "at": 5,
                         "actor": "root", "event": "created", "detail": {}, "source": null});
        assert!(serde_json::from_value::<LedgerEntry>(bad).is_err());
    }

    #[test]
    fn records_and_unknown_kinds_are_told_apart() {
        let gap =
            json!({"v": 1, "kind": "gap", "stream": "s", "seq": 2, "prev": "", "time_ms": 7, "gap": {"dropped": 3}});
        assert_eq!(serde_json::from_value::<LedgerEntry>(gap).unwrap().kind(), EntryKind::Gap);
        let other = json!({"v": 1, "kind": "party", "stream": "s", "seq": 2, "prev": "", "time_ms": 7});
        assert!(serde_json::from_value::<LedgerEntry>(other).is_err(), "an unknown kind is not read as a record");
    }
}
