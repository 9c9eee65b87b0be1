//! The request as the policy reads it, with what is derived from the body (JSON, MCP calls,
//! SQL classes and the CEL variables) computed at most once and only when a rule asks.

use crate::compile::Policy;
use crate::matchers::{host_of, source_ip};
use crate::mcp::{self, McpCall};
use crate::sql::{self, PureFunctions, SqlFacts};

/// The built-in functions only.
static NO_ADDED_FUNCTIONS: PureFunctions = PureFunctions::none();
use crate::when::Variables;
use serde_json::{json, Value};
use std::cell::OnceCell;
use std::net::IpAddr;
use std::rc::Rc;
use warden_kit::facts::{ActionFact, IdentityFact, McpAction, SqlAction};

/// The JSON-RPC calls of a body and whether it is a batch.
type Calls = (Vec<McpCall>, bool);

/// What the policy knows about one request.
pub struct Request<'a> {
    /// Method.
    pub method: &'a str,
    /// Host, lowercase, without port.
    pub host: String,
    /// Path without the query string.
    pub path: &'a str,
    /// Query parameters, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Request headers (lowercase names).
    pub headers: &'a [(String, String)],
    /// Source address.
    pub source: Option<IpAddr>,
    /// The verified identity, if any.
    pub identity: Option<&'a IdentityFact>,
    /// Unix time, seconds.
    pub now_secs: u64,
    /// The body, once buffered (`None` in the headers phase).
    pub body: Option<&'a [u8]>,
    /// The MCP call this evaluation is about (one element of a batch).
    pub call: Option<&'a McpCall>,
    /// The path in lowercase, when the policy matches paths case-insensitively.
    path_lower: Option<String>,
    /// Why the body's bytes are unreadable, worked out once (every body rule asks).
    unreadable: OnceCell<Option<&'static str>>,
    /// SQL facts to use instead of classifying the body's text (`warden audit replay`, where
    /// the record keeps the classification and never the statement).
    pub recorded_sql: Option<SqlFacts>,
    /// The body is larger than the policy buffers (announced by `content-length`): present
    /// but unreadable.
    pub body_too_large: bool,
    /// Functions SQL may call and stay a read, beyond the built-in lists (the policy's
    /// `sql.pure_functions`; none by default).
    pub sql_functions: &'a PureFunctions,
    json: OnceCell<Option<Rc<Value>>>,
    calls: OnceCell<Option<Rc<Calls>>>,
    sql_cache: std::cell::RefCell<Vec<(Option<String>, SqlFacts)>>,
    cel_variables: OnceCell<Variables>,
    cel: OnceCell<cel::Context<'static, 'static>>,
}

impl<'a> Request<'a> {
    /// A request from its pseudo-headers, headers, source address (`ip:port`), identity and
    /// time.
    pub fn new(
        headers: &'a [(String, String)],
        source: Option<&str>,
        identity: Option<&'a IdentityFact>,
        now_secs: u64,
    ) -> Request<'a> {
        let find = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
        let full_path = find(":path");
        let (path, query) = full_path.split_once('?').unwrap_or((full_path, ""));
        Request {
            method: find(":method"),
            host: host_of(find(":authority")),
            path,
            query: parse_query(query),
            headers,
            source: source.and_then(source_ip),
            identity,
            now_secs,
            body: None,
            call: None,
            path_lower: None,
            recorded_sql: None,
            body_too_large: false,
            sql_functions: &NO_ADDED_FUNCTIONS,
            json: OnceCell::new(),
            calls: OnceCell::new(),
            sql_cache: Default::default(),
            cel_variables: OnceCell::new(),
            cel: OnceCell::new(),
            unreadable: OnceCell::new(),
        }
    }

    /// The same request with its body.
    pub fn with_body(&self, body: &'a [u8]) -> Request<'a> {
        self.derived(Some(body), None, OnceCell::new(), OnceCell::new())
    }

    /// The same request about one call of its MCP batch; the body's JSON and calls, parsed
    /// once, are shared rather than parsed again per call.
    pub fn for_call<'c>(&'c self, call: &'c McpCall) -> Request<'c> {
        // Cloning a cell clones its `Rc`, not what it points to.
        self.derived(self.body, Some(call), self.json.clone(), self.calls.clone())
    }

    fn derived<'c>(
        &self,
        body: Option<&'c [u8]>,
        call: Option<&'c McpCall>,
        json: OnceCell<Option<Rc<Value>>>,
        calls: OnceCell<Option<Rc<Calls>>>,
    ) -> Request<'c>
    where
        'a: 'c,
    {
        Request {
            method: self.method,
            host: self.host.clone(),
            path: self.path,
            query: self.query.clone(),
            headers: self.headers,
            source: self.source,
            identity: self.identity,
            now_secs: self.now_secs,
            body,
            call,
            path_lower: self.path_lower.clone(),
            recorded_sql: self.recorded_sql.clone(),
            body_too_large: self.body_too_large,
            sql_functions: self.sql_functions,
            json,
            calls,
            sql_cache: Default::default(),
            cel_variables: OnceCell::new(),
            cel: OnceCell::new(),
            unreadable: OnceCell::new(),
        }
    }

    /// Reads this request as `policy` does: its added SQL functions, and its path in
    /// lowercase when it matches paths case-insensitively.
    pub fn for_policy(mut self, policy: &'a crate::Policy) -> Request<'a> {
        self.sql_functions = &policy.sql_functions;
        if policy.case_insensitive_paths {
            self.path_lower = Some(self.path.to_lowercase());
        }
        self
    }

    /// The path rules are matched against: as sent, or lowercase (`paths.case_insensitive`).
    pub fn match_path(&self) -> &str {
        self.path_lower.as_deref().unwrap_or(self.path)
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter (first occurrence).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is readable, strict JSON (see [`Request::unreadable`]).
    pub fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| {
                let body = self.body.filter(|b| !b.is_empty() && self.unreadable_bytes().is_none())?;
                warden_kit::strict_json::from_slice(body).ok().map(Rc::new)
            })
            .as_deref()
    }

    /// Why the body's bytes cannot be read as the upstream will read them: compressed
    /// (`content-encoding` other than `identity`: Warden does not decompress request bodies),
    /// a UTF-8 byte order mark (which lenient parsers skip and strict ones refuse), or not
    /// UTF-8. `None` for a readable or absent body.
    pub fn unreadable_bytes(&self) -> Option<&'static str> {
        *self.unreadable.get_or_init(|| self.find_unreadable_bytes())
    }

    fn find_unreadable_bytes(&self) -> Option<&'static str> {
        let body = self.body?;
        if self.body_too_large {
            return Some("larger than max_body_bytes");
        }
        // Every `content-encoding` header counts (a second one may name the real coding).
        let encoded = self.headers.iter().filter(|(name, _)| name == "content-encoding").any(|(_, e)| {
            e.split(',').map(str::trim).any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        });
        if encoded {
            Some("compressed (content-encoding)")
        } else if body.starts_with(b"\xef\xbb\xbf") {
            Some("starts with a byte order mark")
        } else if std::str::from_utf8(body).is_err() {
            Some("not UTF-8")
        } else {
            None
        }
    }

    /// Why a matcher that reads the body as JSON cannot read it: the bytes (above), not valid
    /// JSON, or an object that repeats a member. An empty body is readable (it holds nothing).
    pub fn unreadable_json(&self) -> Option<&'static str> {
        let body = self.body?;
        if let Some(why) = self.unreadable_bytes() {
            return Some(why);
        }
        if body.is_empty() || self.json().is_some() {
            return None;
        }
        match warden_kit::strict_json::from_slice(body) {
            Ok(_) => None,
            Err(warden_kit::strict_json::StrictJsonError::DuplicateMember) => Some("an object repeats a member"),
            Err(warden_kit::strict_json::StrictJsonError::Invalid) => Some("not valid JSON"),
        }
    }

    /// The JSON-RPC calls of the body and whether it is a batch.
    pub fn mcp_calls(&self) -> Option<&(Vec<McpCall>, bool)> {
        self.calls.get_or_init(|| self.json().and_then(mcp::calls).map(Rc::new)).as_deref()
    }

    /// The MCP calls a rule looks at: the one under evaluation, or all of them.
    pub fn calls_in_scope(&self) -> Vec<&McpCall> {
        match self.call {
            Some(call) => vec![call],
            None => self.mcp_calls().map(|(calls, _)| calls.iter().collect()).unwrap_or_default(),
        }
    }

    /// Adds the MCP calls this request's rules parsed (names only) to `action`; nothing when
    /// no rule made the body parse as JSON-RPC.
    pub fn read_mcp_into(&self, action: &mut ActionFact) {
        let Some(Some(calls)) = self.calls.get() else { return };
        action.mcp = calls
            .0
            .iter()
            .map(|call| {
                let mut arguments: Vec<String> =
                    call.arguments.as_object().map(|a| a.keys().cloned().collect()).unwrap_or_default();
                arguments.sort();
                McpAction { method: call.method.clone(), tool: call.tool.clone(), arguments }
            })
            .collect();
    }

    /// Adds the SQL this request's rules classified to `action` (union of classes and tables).
    pub fn read_sql_into(&self, action: &mut ActionFact) {
        for (_, facts) in self.sql_cache.borrow().iter() {
            let sql = action.sql.get_or_insert_with(|| SqlAction { parsed: true, ..SqlAction::default() });
            for class in &facts.classes {
                if !sql.classes.contains(class) {
                    sql.classes.push(*class);
                }
            }
            for table in &facts.tables {
                if !sql.tables.contains(table) {
                    sql.tables.push(table.clone());
                }
            }
            for reason in &facts.reasons {
                if !sql.reasons.contains(reason) {
                    sql.reasons.push(reason.clone());
                }
            }
            sql.classes.sort();
            sql.tables.sort();
            sql.destructive |= facts.destructive;
            sql.parsed &= facts.parsed;
        }
    }

    /// SQL classification of the text at `pointer` (a JSON string), or of the whole body.
    /// `None` when there is no body or nothing at the pointer.
    pub fn sql(&self, pointer: Option<&str>) -> Option<SqlFacts> {
        if let Some(recorded) = &self.recorded_sql {
            return Some(recorded.clone());
        }
        if let Some((_, facts)) = self.sql_cache.borrow().iter().find(|(p, _)| p.as_deref() == pointer) {
            return Some(facts.clone());
        }
        let text = match pointer {
            Some(p) => self.json()?.pointer(p)?.as_str()?.to_string(),
            None => std::str::from_utf8(self.body?).ok()?.to_string(),
        };
        let facts = sql::classify_with(&text, self.sql_functions);
        self.sql_cache.borrow_mut().push((pointer.map(str::to_string), facts.clone()));
        Some(facts)
    }

    /// The values of the CEL variables (built on first use).
    pub fn cel_variables(&self, policy: &Policy) -> &Variables {
        self.cel_variables.get_or_init(|| {
            let headers: serde_json::Map<String, Value> =
                self.headers.iter().filter(|(k, _)| !k.starts_with(':')).map(|(k, v)| (k.clone(), json!(v))).collect();
            let query: serde_json::Map<String, Value> = self.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let request = json!({"method": self.method, "host": self.host, "path": self.path, "query": query, "headers": headers});
            let identity = self.identity.map_or(Value::Null, |i| serde_json::to_value(i).unwrap_or(Value::Null));
            let local = self.now_secs as i64 + policy.zone.offset_at(self.now_secs);
            let weekday = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][local.div_euclid(86_400).rem_euclid(7) as usize];
            let now = json!({"unix": self.now_secs, "weekday": weekday, "hour": local.rem_euclid(86_400) / 3600,
                             "minute": local.rem_euclid(3600) / 60});
            let source = self.source.map_or(Value::Null, |s| json!(s.to_string()));
            let (body, mcp, sql) = match self.body {
                Some(raw) => {
                    // Bytes that cannot be read as the upstream reads them are `null`.
                    let body = match (self.json(), self.unreadable_bytes()) {
                        (Some(json), _) => json.clone(),
                        (None, Some(_)) => Value::Null,
                        (None, None) => json!(String::from_utf8_lossy(raw)),
                    };
                    let mcp = match self.call.or_else(|| self.mcp_calls().and_then(|(c, _)| c.first())) {
                        Some(call) => json!({"method": call.method, "tool": call.tool, "arguments": call.arguments,
                                             "batch": self.mcp_calls().is_some_and(|(_, batch)| *batch)}),
                        None => Value::Null,
                    };
                    let sql = self.sql(None).map_or(Value::Null, |s| serde_json::to_value(s).unwrap_or(Value::Null));
                    (body, mcp, sql)
                }
                None => (Value::Null, Value::Null, Value::Null),
            };
            // The order of `CEL_VARIABLES`.
            Variables::new([request, identity, source, now, body, mcp, sql])
        })
    }

    /// The CEL interpreter's context of this request (built on first use, only for
    /// conditions the native evaluator leaves to the interpreter).
    pub fn cel_context(&self, policy: &Policy) -> &cel::Context<'static, 'static> {
        self.cel.get_or_init(|| {
            let mut context = cel::Context::with_env(policy.cel.clone());
            for (name, value) in self.cel_variables(policy).named() {
                let _ = context.add_variable(name, value);
            }
            context
        })
    }
}

/// `a=1&b=x%20y` → pairs, percent-decoded (`+` is a space).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(
            parse_query("force=%74rue&q=a+b&x"),
            vec![("force".into(), "true".into()), ("q".into(), "a b".into()), ("x".into(), String::new())]
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
