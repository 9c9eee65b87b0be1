//! Typed errors. Messages never contain header values, tokens or bodies.

/// A configuration that cannot be compiled. `field` names the offending field (dotted path),
/// so the proxy log says exactly what to fix; the plugin is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration at `{field}`: {message}")]
pub struct ConfigError {
    /// Dotted path of the field, e.g. `stages[1].config.max_request_body_bytes`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { field: field.into(), message: message.into() }
    }

    /// `field: message`: how a tool or a log line names the error after its own prefix
    /// (`configuration: approvers.providers[0].issuer: must not be empty`).
    pub fn brief(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }

    /// The same error, with its field nested under `parent`.
    pub fn within(self, parent: &str) -> Self {
        let field = if self.field.is_empty() { parent.to_string() } else { format!("{parent}.{}", self.field) };
        ConfigError { field, message: self.message }
    }
}

/// A failure while handling a request: each one is answered per the stage's
/// [`crate::FailureMode`] (deny by default).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KitError {
    /// The buffered body grew past the configured limit.
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A callout could not be dispatched (unknown cluster, bad headers).
    #[error("callout to cluster `{cluster}` could not be dispatched")]
    CalloutRejected {
        /// Target cluster.
        cluster: String,
    },
    /// The host refused an operation the chain needed.
    #[error("host refused {operation}")]
    Host {
        /// What was refused, e.g. `set request header`.
        operation: &'static str,
    },
    /// An effect asked for something the current phase cannot do.
    #[error("{effect} is not possible in the {phase} phase")]
    WrongPhase {
        /// The effect.
        effect: &'static str,
        /// The phase it came from.
        phase: &'static str,
    },
}
