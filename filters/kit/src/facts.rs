//! The per-request facts contract: what one stage tells the next, under documented keys.
//!
//! Each fact is a versioned JSON object (`"v": 1`) stored in filter state under its key
//! (Envoy shows it as `wasm.<key>`, e.g. `%FILTER_STATE(wasm.warden.identity:PLAIN)%`).
//! In the suite the same values pass in memory and are also exported to filter state.
//! Facts never contain secrets: no tokens, credentials, or masked values.
//! The shapes are documented in `filters/kit/README.md`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Request id shared by every stage and the audit record (`x-request-id`).
pub const REQUEST_ID: &str = "warden.request_id";
/// Who is calling: [`IdentityFact`].
pub const IDENTITY: &str = "warden.identity";
/// What policy decided: [`DecisionFact`].
pub const DECISION: &str = "warden.decision";
/// What a human approver said: [`ApprovalFact`].
pub const APPROVAL: &str = "warden.approval";
/// What was hidden: [`MaskingFact`].
pub const MASKING: &str = "warden.masking";
/// Every documented key.
pub const ALL_KEYS: [&str; 5] = [REQUEST_ID, IDENTITY, DECISION, APPROVAL, MASKING];

/// Version of the shapes below.
pub const VERSION: u32 = 1;

/// Kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A person.
    Human,
    /// An AI agent.
    Agent,
    /// A workload or service.
    Service,
}

/// One party in a delegation chain (RFC 8693 `act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Subject identifier.
    pub subject: String,
    /// Kind.
    pub kind: SubjectKind,
}

/// `warden.identity`: the verified caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityFact {
    /// Shape version ([`VERSION`]).
    pub v: u32,
    /// Subject (the person or workload the request is for).
    pub subject: String,
    /// Issuer (token issuer, trust domain, or `api_key`).
    pub issuer: String,
    /// Kind of subject.
    pub kind: SubjectKind,
    /// Who actually acts (an agent acting for the subject), outermost first; empty if none.
    #[serde(default)]
    pub actors: Vec<Actor>,
    /// Groups or roles.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How the caller authenticated: `jwt`, `mtls`, `api_key`.
    pub method: String,
    /// Credential expiry, seconds since the epoch.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Selected non-secret claims.
    #[serde(default)]
    pub claims: BTreeMap<String, Value>,
}

/// Outcome of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Let it through.
    Allow,
    /// Refuse it.
    Deny,
    /// Hold it until a human approves.
    RequireApproval,
    /// Let it through with sensitive data masked.
    Mask,
}

/// `warden.decision`: what policy decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionFact {
    /// Shape version.
    pub v: u32,
    /// The decision.
    pub effect: Effect,
    /// Id of the rule that decided.
    pub rule: String,
    /// Human-readable reason (no secrets).
    pub reason: String,
    /// Policy pack and version, e.g. `mcp-tools@3`.
    pub policy: String,
    /// Masking rules to apply when `effect` is `mask`.
    #[serde(default)]
    pub mask: Vec<String>,
}

/// Outcome of an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// A human approved.
    Approved,
    /// A human refused.
    Denied,
    /// Nobody answered in time.
    Timeout,
    /// The approval service failed.
    Error,
}

/// `warden.approval`: what the approver said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalFact {
    /// Shape version.
    pub v: u32,
    /// Outcome.
    pub status: ApprovalStatus,
    /// Approval id at the approval service.
    pub approval_id: String,
    /// Who decided (subject), if anyone.
    #[serde(default)]
    pub approver: Option<String>,
    /// When, seconds since the epoch.
    #[serde(default)]
    pub decided_at: Option<u64>,
}

/// `warden.masking`: what was hidden (never the hidden values themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskingFact {
    /// Shape version.
    pub v: u32,
    /// `request` or `response`.
    pub direction: String,
    /// Rules that matched, e.g. `email`, `ssn`.
    pub rules: Vec<String>,
    /// Number of values masked.
    pub count: u64,
}

/// The facts of one request: the request id plus JSON values by key, with the keys changed
/// since the last export tracked so the adapter writes each change to filter state once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    values: BTreeMap<String, Value>,
    dirty: Vec<String>,
}

impl Facts {
    /// The request id, if known.
    pub fn request_id(&self) -> Option<&str> {
        self.values.get(REQUEST_ID).and_then(Value::as_str)
    }

    /// The raw value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// The value under `key` as a typed shape; `None` if absent or of another shape.
    pub fn get_as<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        self.values.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// Stores `value` under `key` (marked for export).
    pub fn set(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
        if !self.dirty.iter().any(|k| k == key) {
            self.dirty.push(key.to_string());
        }
    }

    /// Stores a typed shape under `key`. A shape that cannot be serialized is not stored
    /// (all shapes in this module always serialize).
    pub fn put<T: Serialize>(&mut self, key: &str, fact: &T) {
        if let Ok(value) = serde_json::to_value(fact) {
            self.set(key, value);
        }
    }

    /// Stores a value read from filter state without marking it for export.
    pub fn import(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
    }

    /// Keys changed since the last call, with their serialized values.
    pub fn take_changes(&mut self) -> Vec<(String, Vec<u8>)> {
        let keys = std::mem::take(&mut self.dirty);
        keys.into_iter()
            .filter_map(|k| {
                let value = self.values.get(&k)?;
                let bytes = match value {
                    Value::String(s) => s.as_bytes().to_vec(),
                    other => serde_json::to_vec(other).ok()?,
                };
                Some((k, bytes))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_shape_round_trips_with_defaults() {
        let json = r#"{"v":1,"subject":"alice","issuer":"https://idp","kind":"human","method":"jwt"}"#;
        let fact: IdentityFact = serde_json::from_str(json).unwrap();
        assert_eq!(fact.subject, "alice");
        assert!(fact.actors.is_empty());
        let mut facts = Facts::default();
        facts.put(IDENTITY, &fact);
        assert_eq!(facts.get_as::<IdentityFact>(IDENTITY), Some(fact));
    }

    #[test]
    fn changes_are_exported_once_and_imports_are_not_exported() {
        let mut facts = Facts::default();
        facts.import(IDENTITY, serde_json::json!({"v":1}));
        facts.set(REQUEST_ID, Value::String("r-1".into()));
        facts.set(REQUEST_ID, Value::String("r-1".into()));
        assert_eq!(facts.take_changes(), vec![(REQUEST_ID.to_string(), b"r-1".to_vec())]);
        assert!(facts.take_changes().is_empty());
        assert_eq!(facts.request_id(), Some("r-1"));
    }
}
