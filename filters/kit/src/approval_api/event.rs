//! The approval event log (`GET /v1/events`): every state change, who made it, when and from
//! where. Only ever appended; the evidence ledger copies it.

use serde::{Deserialize, Serialize};

/// What happened.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The proxy asked for an approval.
    Created,
    /// A person voted (detail: decision, reason, forced).
    Voted,
    /// The votes decided it approved.
    Approved,
    /// The votes decided it denied.
    Denied,
    /// A break-glass decision.
    Forced,
    /// The proxy used it.
    Consumed,
    /// A use was refused (detail: the code).
    ConsumeRefused,
    /// Withdrawn.
    Cancelled,
    /// Not decided or not used in time (recorded when first noticed).
    Expired,
    /// A notification to a channel (webhook, Teams, Slack) was given up on after its retries
    /// (detail: channel, notice, attempts, error).
    DeliveryFailed,
    /// A decision from a chat channel was refused (detail: channel, chat user, reason).
    VoteRefused,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 11] = [
        EventKind::Created,
        EventKind::Voted,
        EventKind::Approved,
        EventKind::Denied,
        EventKind::Forced,
        EventKind::Consumed,
        EventKind::ConsumeRefused,
        EventKind::Cancelled,
        EventKind::Expired,
        EventKind::DeliveryFailed,
        EventKind::VoteRefused,
    ];

    /// The name stored and sent (`created`, `consume_refused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Voted => "voted",
            EventKind::Approved => "approved",
            EventKind::Denied => "denied",
            EventKind::Forced => "forced",
            EventKind::Consumed => "consumed",
            EventKind::ConsumeRefused => "consume_refused",
            EventKind::Cancelled => "cancelled",
            EventKind::Expired => "expired",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::VoteRefused => "vote_refused",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Who made a change.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventActor {
    /// A person, by the subject their sign-in or token named.
    Person {
        /// Their subject.
        subject: String,
    },
    /// A proxy, by the name of the key it authenticated with.
    Proxy {
        /// The proxy key's name.
        name: String,
    },
    /// The service itself (timers: expiry, delivery retries).
    Service,
}

impl EventActor {
    /// The compact form the service stores: `person:<subject>`, `proxy:<name>`, `service`.
    pub fn to_stored(&self) -> String {
        match self {
            EventActor::Person { subject } => format!("person:{subject}"),
            EventActor::Proxy { name } => format!("proxy:{name}"),
            EventActor::Service => "service".into(),
        }
    }

    /// Parses [`EventActor::to_stored`]'s form; `None` for anything else.
    pub fn parse_stored(text: &str) -> Option<EventActor> {
        match text.split_once(':') {
            Some(("person", subject)) => Some(EventActor::Person { subject: subject.into() }),
            Some(("proxy", name)) => Some(EventActor::Proxy { name: name.into() }),
            None if text == "service" => Some(EventActor::Service),
            _ => None,
        }
    }

    /// The person's subject or the proxy's name; `service` for the service.
    pub fn name(&self) -> &str {
        match self {
            EventActor::Person { subject } => subject,
            EventActor::Proxy { name } => name,
            EventActor::Service => "service",
        }
    }
}

impl std::fmt::Display for EventActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_stored())
    }
}

/// One entry of the log.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (increasing; assigned by the database).
    pub seq: i64,
    /// The approval it is about.
    pub approval_id: String,
    /// When, seconds since the epoch.
    pub at: u64,
    /// Who made the change.
    pub actor: EventActor,
    /// What happened.
    pub kind: EventKind,
    /// Details (no secrets: never a token or header).
    pub detail: serde_json::Value,
    /// The caller's address, when it came from the network.
    pub source: Option<String>,
}

/// `GET /v1/events?after=&limit=`: the log, in order.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventList {
    /// Events after `after`, at most `limit`.
    pub events: Vec<Event>,
}
