//! The compiled guard and its decisions.

use crate::config::GuardConfig;
use warden_kit::{
    BodyNeed, ConfigError, Cx, Effect, FailureMode, Flow, HeaderMap, LocalReply, MetricKind, Needs, Stage, StageKind,
};

/// The compiled guard: immutable, shared by all requests.
#[derive(Debug, Clone)]
pub struct Guard {
    strip_exact: Vec<String>,
    strip_prefixes: Vec<String>,
    allowed_methods: Vec<String>,
    allow_header: String,
    required_headers: Vec<String>,
    max_body: Option<usize>,
    failure_mode: FailureMode,
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

impl StageKind for Guard {
    const NAME: &'static str = "guard";
    type Config = GuardConfig;

    /// Validates and compiles `config`; errors name the field.
    fn compile(config: GuardConfig) -> Result<Guard, ConfigError> {
        let mut strip_exact = Vec::new();
        let mut strip_prefixes = Vec::new();
        for (i, entry) in config.strip_request_headers.iter().enumerate() {
            let field = format!("strip_request_headers[{i}]");
            match entry.strip_suffix('*') {
                Some(prefix) if valid_header_name(prefix) => strip_prefixes.push(prefix.to_string()),
                Some(_) => {
                    return Err(ConfigError::new(
                        field,
                        "a prefix needs at least one lowercase header character before `*`",
                    ))
                }
                None if valid_header_name(entry) => strip_exact.push(entry.clone()),
                None => {
                    return Err(ConfigError::new(
                        field,
                        "not a lowercase header name (pseudo-headers cannot be stripped)",
                    ))
                }
            }
        }
        let mut allowed_methods = Vec::new();
        for (i, method) in config.allowed_methods.iter().enumerate() {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::new(
                    format!("allowed_methods[{i}]"),
                    "methods are uppercase letters, e.g. GET",
                ));
            }
            allowed_methods.push(method.clone());
        }
        for (i, name) in config.required_headers.iter().enumerate() {
            if !valid_header_name(name) {
                return Err(ConfigError::new(format!("required_headers[{i}]"), "not a lowercase header name"));
            }
        }
        if let Some(max) = config.max_request_body_bytes {
            warden_kit::limits::body_limit("max_request_body_bytes", max)?;
        }
        Ok(Guard {
            strip_exact,
            strip_prefixes,
            allow_header: allowed_methods.join(", "),
            allowed_methods,
            required_headers: config.required_headers,
            max_body: config.max_request_body_bytes,
            failure_mode: config.failure_mode,
        })
    }
}

impl Guard {
    fn strips(&self, name: &str) -> bool {
        self.strip_exact.iter().any(|n| n == name) || self.strip_prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }

    fn deny(cx: &mut Cx<'_>, reply: LocalReply, reason: &str) -> Flow {
        cx.effects.push(Effect::Metric { name: "warden_guard_denied_total", kind: MetricKind::Counter, value: 1 });
        cx.effects.push(Effect::Log {
            level: warden_kit::LogLevel::Info,
            message: format!("warden_guard: denied: {reason}"),
        });
        Flow::Respond(reply)
    }

    fn too_large(cx: &mut Cx<'_>, max: usize) -> Flow {
        let reply = LocalReply::new(413, format!("request body larger than {max} bytes"))
            .with_details("warden_guard_body_too_large");
        Self::deny(cx, reply, "body too large")
    }
}

impl Stage for Guard {
    fn name(&self) -> &'static str {
        <Self as warden_kit::StageKind>::NAME
    }

    fn needs(&self) -> Needs {
        let request_body = if self.max_body.is_some() { BodyNeed::Inspect } else { BodyNeed::None };
        Needs { request_body, ..Needs::default() }
    }

    fn failure_mode(&self) -> FailureMode {
        self.failure_mode
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let stripped: Vec<String> =
            cx.request.headers().iter().map(|(k, _)| k).filter(|k| self.strips(k)).cloned().collect();
        if !stripped.is_empty() {
            let count = stripped.len() as i64;
            for name in stripped {
                cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name });
            }
            cx.effects.push(Effect::Metric {
                name: "warden_guard_stripped_total",
                kind: MetricKind::Counter,
                value: count,
            });
        }
        let method = cx.request.header(":method").unwrap_or_default();
        if !self.allowed_methods.is_empty() && !self.allowed_methods.iter().any(|m| m == method) {
            let reply = LocalReply::new(405, "method not allowed")
                .with_header("allow", self.allow_header.clone())
                .with_details("warden_guard_method");
            return Self::deny(cx, reply, "method not allowed");
        }
        if let Some(missing) = self.required_headers.iter().find(|name| cx.request.header(name).is_none()) {
            let reply = LocalReply::new(400, format!("missing required header {missing}"))
                .with_details("warden_guard_missing_header");
            return Self::deny(cx, reply, "missing required header");
        }
        if let Some(max) = self.max_body {
            let declared = cx.request.header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
            if declared.is_some_and(|len| len > max) {
                return Self::too_large(cx, max);
            }
        }
        Flow::Continue
    }

    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        match (self.max_body, cx.request.body()) {
            (Some(max), Some(body)) if body.len() > max => Self::too_large(cx, max),
            _ => Flow::Continue,
        }
    }
}
