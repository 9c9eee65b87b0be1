//! The masking stage: picks the profiles of each direction (route, then the policy's mask
//! obligations), declines bodies no profile applies to so they stream untouched, refuses what
//! it cannot scan unless told to pass it, masks event streams and NDJSON line by line as they
//! arrive and other bodies buffered, and reports to `warden.masking`.

use crate::config::{compile_profile, hash_key, MaskConfig, OtherContent, Unscannable};
use crate::formats::{mask_body, Format};
use crate::profile::{Profile, Report};
use crate::stream::{LineStream, LineTooLong};
use warden_kit::facts::{self, MaskObligation, MaskingFact};
use warden_kit::limits::MAX_BODY_BYTES;
use warden_kit::FactRead;
use warden_kit::{
    BodyNeed, ConfigError, Cx, Effect, FailureMode, Flow, HeaderMap, LocalReply, MetricKind, Needs, Stage, StageKind,
};

/// Which body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// What to do with a body, from its headers.
enum Plan {
    Scan(Format),
    Pass(&'static str),
    Deny(&'static str),
}

/// The part of `warden.decision` this stage reads (the rest is not deserialized).
#[derive(serde::Deserialize)]
struct Obligations {
    #[serde(default)]
    mask: Vec<MaskObligation>,
}
impl facts::ViewOf<facts::DecisionFact> for Obligations {}

/// A body being masked as it streams (kept in the request's scratch, never in facts: the
/// carried-over line is unmasked text).
struct Streamed {
    /// Indices of the profiles chosen at the first chunk.
    profiles: Vec<usize>,
    lines: LineStream,
    report: Report,
}

/// The streamed bodies of one request.
#[derive(Default)]
struct Streams {
    request: Option<Streamed>,
    response: Option<Streamed>,
}

/// Profiles of one route.
struct Route {
    prefix: String,
    request: Option<usize>,
    response: Option<usize>,
}

/// The compiled masking stage.
pub struct Masker {
    profiles: Vec<Profile>,
    request: Option<usize>,
    response: Option<usize>,
    routes: Vec<Route>,
    obligations: bool,
    max_body_bytes: usize,
    failure_mode: FailureMode,
    compressed: Unscannable,
    other_content: OtherContent,
    summary_header: Option<String>,
}

impl StageKind for Masker {
    const NAME: &'static str = "mask";
    type Config = MaskConfig;

    /// Compiles the configuration; errors name the field.
    fn compile(config: MaskConfig) -> Result<Masker, ConfigError> {
        let key = hash_key(config.hash_key.as_deref())?;
        let mut profiles = Vec::new();
        for (name, profile) in &config.profiles {
            profiles
                .push(compile_profile(name, profile, key.as_ref()).map_err(|e| e.within(&format!("profiles.{name}")))?);
        }
        let index = |name: &Option<String>, field: &str| -> Result<Option<usize>, ConfigError> {
            match name {
                None => Ok(None),
                Some(n) => profiles
                    .iter()
                    .position(|p| &p.name == n)
                    .map(Some)
                    .ok_or_else(|| ConfigError::new(field, format!("no profile named `{n}`"))),
            }
        };
        let mut routes = Vec::new();
        for (i, r) in config.routes.iter().enumerate() {
            routes.push(Route {
                prefix: r.prefix.clone(),
                request: index(&r.request, &format!("routes[{i}].request"))?,
                response: index(&r.response, &format!("routes[{i}].response"))?,
            });
        }
        let max_body_bytes =
            warden_kit::limits::body_limit("max_body_bytes", config.max_body_bytes.unwrap_or(MAX_BODY_BYTES))?;
        Ok(Masker {
            request: index(&config.request, "request")?,
            response: index(&config.response, "response")?,
            routes,
            obligations: config.obligations,
            max_body_bytes,
            failure_mode: config.failure_mode,
            compressed: config.compressed,
            other_content: config.other_content,
            summary_header: config.summary_header.map(|h| h.to_ascii_lowercase()),
            profiles,
        })
    }
}

/// Why the profiles for a body cannot be known: the body is refused (500), never passed
/// unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProfiles {
    /// The policy's obligation names a profile this filter does not have.
    UnknownProfile(String),
    /// The decision fact is there but this build cannot read it (why, never its values).
    DecisionUnreadable(String),
}

impl NoProfiles {
    fn refusal(&self) -> Flow {
        let (code, message) = match self {
            NoProfiles::UnknownProfile(name) => (
                "mask_profile_unknown",
                format!("the policy asked for masking profile `{name}`, which this filter does not have"),
            ),
            NoProfiles::DecisionUnreadable(why) => {
                ("mask_decision_unreadable", format!("the policy's decision cannot be read ({why})"))
            }
        };
        let body = serde_json::json!({"error": code, "message": message});
        Flow::Respond(
            LocalReply::new(500, body.to_string())
                .with_header("content-type", "application/json")
                .with_details(format!("warden_{code}")),
        )
    }
}

impl Masker {
    /// The profiles for `direction`, `Ok(None)` while the policy has not decided yet (its
    /// obligations are unknown); an error for an obligation naming no profile or a decision
    /// whose obligations cannot be read.
    fn profiles_for<'a>(&'a self, cx: &Cx<'_>, direction: Direction) -> Result<Option<Vec<&'a Profile>>, NoProfiles> {
        let path = cx.request.header(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let (request, response) = match self.routes.iter().find(|r| path.starts_with(&r.prefix)) {
            Some(route) => (route.request, route.response),
            None => (self.request, self.response),
        };
        let mut chosen: Vec<&Profile> = match direction {
            Direction::Request => request,
            Direction::Response => response,
        }
        .map(|i| &self.profiles[i])
        .into_iter()
        .collect();
        if self.obligations {
            let decision = match cx.facts.get_view::<_, Obligations>(facts::DECISION) {
                FactRead::Present(decision) => decision,
                // Not decided yet: only the static profiles are known so far.
                FactRead::Absent => return Ok((!chosen.is_empty()).then_some(chosen)),
                // A decision whose obligations cannot be read may hold some: refuse rather
                // than pass the body unmasked.
                FactRead::Unreadable(why) => return Err(NoProfiles::DecisionUnreadable(why)),
            };
            for obligation in decision.mask {
                let applies = match direction {
                    Direction::Request => obligation.request,
                    Direction::Response => obligation.response,
                };
                if !applies {
                    continue;
                }
                let profile = self
                    .profiles
                    .iter()
                    .find(|p| p.name == obligation.profile)
                    .ok_or(NoProfiles::UnknownProfile(obligation.profile))?;
                if !chosen.iter().any(|p| p.name == profile.name) {
                    chosen.push(profile);
                }
            }
        }
        Ok(Some(chosen))
    }

    /// Scan, pass or refuse, from the body's content headers.
    fn plan(&self, content_type: Option<&str>, content_encoding: Option<&str>) -> Plan {
        if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity") && !e.trim().is_empty()) {
            return match self.compressed {
                Unscannable::Deny => Plan::Deny("compressed"),
                Unscannable::Pass => Plan::Pass("compressed_passed_unscanned"),
            };
        }
        match content_type.and_then(crate::formats::of) {
            Some(format) => Plan::Scan(format),
            None => match self.other_content {
                OtherContent::Text => Plan::Scan(Format::Text),
                OtherContent::Pass => Plan::Pass("content_type_passed_unscanned"),
                OtherContent::Deny => Plan::Deny("content_type"),
            },
        }
    }

    fn headers(cx: &Cx<'_>, direction: Direction) -> (Option<String>, Option<String>) {
        let get = |name: &str| match direction {
            Direction::Request => cx.request.header(name).map(str::to_string),
            Direction::Response => cx.request.response_header(name).map(str::to_string),
        };
        (get("content-type"), get("content-encoding"))
    }

    /// Records a direction's report in `warden.masking` (merged with the other direction's).
    fn report(cx: &mut Cx<'_>, direction: Direction, report: Report) {
        let mut fact: MaskingFact = cx.facts.read(facts::MASKING).unwrap_or_default();
        fact.v = facts::VERSION;
        match direction {
            Direction::Request => fact.request = Some(report),
            Direction::Response => fact.response = Some(report),
        }
        cx.facts.write(facts::MASKING, &fact);
    }

    fn values_metric(direction: Direction, total: u64) -> Option<Effect> {
        let name = match direction {
            Direction::Request => "warden_mask_request_values_total",
            Direction::Response => "warden_mask_response_values_total",
        };
        (total > 0).then_some(Effect::Metric { name, kind: MetricKind::Counter, value: total as i64 })
    }

    fn too_large(direction: Direction) -> Flow {
        let status = match direction {
            Direction::Request => 413,
            Direction::Response => 502,
        };
        Flow::Respond(LocalReply::new(status, "body too large for inspection").with_details("warden_body_too_large"))
    }

    fn refuse(direction: Direction, why: &str) -> Flow {
        let status = match direction {
            Direction::Request => 415,
            Direction::Response => 502,
        };
        let body = serde_json::json!({"error": "body_not_scannable", "reason": why,
                                      "message": "the body cannot be checked for sensitive data"});
        Flow::Respond(
            LocalReply::new(status, body.to_string())
                .with_header("content-type", "application/json")
                .with_details("warden_mask_not_scannable"),
        )
    }

    /// Headers phase of a direction: decline a body no profile applies to, refuse or pass one
    /// that cannot be scanned.
    fn on_headers(&self, cx: &mut Cx<'_>, direction: Direction) -> Flow {
        let skip = match direction {
            Direction::Request => Effect::SkipRequestBody,
            Direction::Response => Effect::SkipResponseBody,
        };
        let profiles = match self.profiles_for(cx, direction) {
            Err(why) => return why.refusal(),
            Ok(Some(profiles)) if profiles.is_empty() => {
                cx.effects.push(skip);
                return Flow::Continue;
            }
            Ok(profiles) => profiles,
        };
        let (content_type, content_encoding) = Self::headers(cx, direction);
        let length = match direction {
            Direction::Request => cx.request.header("content-length"),
            Direction::Response => cx.request.response_header("content-length"),
        };
        // A body announced larger than the limit is refused before a byte of it is sent (a
        // chunked one is caught by the chain while buffering; for a response that resets the
        // stream, as its headers are already on their way).
        if length.and_then(|l| l.trim().parse::<usize>().ok()).is_some_and(|l| l > self.max_body_bytes) {
            return match self.failure_mode {
                FailureMode::Closed => Self::too_large(direction),
                FailureMode::Open => {
                    cx.effects.push(skip);
                    if let Some(profiles) = profiles {
                        let mut report =
                            Report { profiles: profiles.iter().map(|p| p.name.clone()).collect(), ..Report::default() };
                        report.note("too_large_passed_unscanned");
                        Self::report(cx, direction, report);
                    }
                    Flow::Continue
                }
            };
        }
        match self.plan(content_type.as_deref(), content_encoding.as_deref()) {
            Plan::Scan(Format::EventStream | Format::Ndjson) => {
                // Line-framed: masked line by line as it arrives, so the stream keeps flowing.
                cx.effects.push(match direction {
                    Direction::Request => Effect::StreamRequestBody,
                    Direction::Response => Effect::StreamResponseBody,
                });
                Flow::Continue
            }
            Plan::Scan(_) => Flow::Continue,
            Plan::Deny(why) => Self::refuse(direction, why),
            Plan::Pass(note) => {
                cx.effects.push(skip);
                if let Some(profiles) = profiles {
                    let mut report =
                        Report { profiles: profiles.iter().map(|p| p.name.clone()).collect(), ..Report::default() };
                    report.note(note);
                    Self::report(cx, direction, report);
                }
                Flow::Continue
            }
        }
    }

    /// Body phase of a direction: mask with every profile in turn.
    fn on_body(&self, cx: &mut Cx<'_>, direction: Direction) -> Flow {
        let profiles = match self.profiles_for(cx, direction) {
            Err(why) => return why.refusal(),
            Ok(None) => return Flow::Continue,
            Ok(Some(profiles)) => profiles,
        };
        if profiles.is_empty() {
            return Flow::Continue;
        }
        let (content_type, content_encoding) = Self::headers(cx, direction);
        let format = match self.plan(content_type.as_deref(), content_encoding.as_deref()) {
            Plan::Scan(format) => format,
            Plan::Deny(why) => return Self::refuse(direction, why),
            Plan::Pass(_) => return Flow::Continue,
        };
        let mut report = Report { profiles: profiles.iter().map(|p| p.name.clone()).collect(), ..Report::default() };
        let mut body: Option<Vec<u8>> = None;
        for profile in &profiles {
            let current = body.as_deref().unwrap_or_else(|| cx.request.body().unwrap_or_default());
            if let Some(masked) = mask_body(profile, format, current, &mut report) {
                body = Some(masked);
            }
        }
        if let Some(body) = body {
            cx.effects.push(Effect::ReplaceBody(body));
        }
        cx.effects.extend(Self::values_metric(direction, report.total()));
        Self::report(cx, direction, report);
        Flow::Continue
    }

    /// A new streamed body: its profiles and format (`Err`: a flow to return instead).
    fn start_stream(&self, cx: &Cx<'_>, direction: Direction) -> Result<Streamed, Box<Flow>> {
        let profiles = match self.profiles_for(cx, direction) {
            Err(why) => return Err(Box::new(why.refusal())),
            Ok(profiles) => profiles.unwrap_or_default(),
        };
        let (content_type, content_encoding) = Self::headers(cx, direction);
        let format = match self.plan(content_type.as_deref(), content_encoding.as_deref()) {
            Plan::Scan(format) => format,
            Plan::Deny(why) => return Err(Box::new(Self::refuse(direction, why))),
            Plan::Pass(_) => Format::Text, // not reached: passed bodies are not streamed
        };
        let indices = profiles
            .iter()
            .filter_map(|chosen| self.profiles.iter().position(|p| std::ptr::eq(p, *chosen)))
            .collect::<Vec<_>>();
        let report = Report { profiles: profiles.iter().map(|p| p.name.clone()).collect(), ..Report::default() };
        Ok(Streamed { profiles: indices, lines: LineStream::new(format, self.max_body_bytes), report })
    }

    /// One chunk of a line-framed body: its complete lines are masked and handed on, the
    /// unfinished last line waits for the next chunk (at most `max_body_bytes` of it).
    fn on_chunk(&self, cx: &mut Cx<'_>, direction: Direction, end: bool) -> Flow {
        let mut streams: Streams = cx.scratch.take().unwrap_or_default();
        let slot = match direction {
            Direction::Request => &mut streams.request,
            Direction::Response => &mut streams.response,
        };
        let first = slot.is_none();
        let state = match slot.take() {
            Some(state) => state,
            None => match self.start_stream(cx, direction) {
                Ok(state) => state,
                Err(flow) => return *flow,
            },
        };
        let state = slot.insert(state);
        if state.profiles.is_empty() {
            // No profile applies (no static one, and no policy decision to name one): the
            // body passes as it is, as a buffered one would, and nothing is reported.
            cx.scratch.set(streams);
            return Flow::Continue;
        }
        let profiles: Vec<&Profile> = state.profiles.iter().filter_map(|&i| self.profiles.get(i)).collect();
        let chunk = cx.request.body().unwrap_or_default();
        let (total, notes) = (state.report.total(), state.report.notes.len());
        let out = match state.lines.push(&profiles, chunk, end, &mut state.report) {
            Ok(out) => out,
            Err(LineTooLong) => match self.failure_mode {
                FailureMode::Closed => {
                    state.report.note("line_too_long");
                    let report = state.report.clone();
                    Self::report(cx, direction, report);
                    return Self::too_large(direction);
                }
                FailureMode::Open => {
                    // The unfinished line is masked as it is: a value cut at this point may
                    // escape detection, and the report says the line was split.
                    state.report.note("line_too_long_split");
                    state.lines.push(&profiles, &[], true, &mut state.report).unwrap_or_default()
                }
            },
        };
        if out != chunk {
            cx.effects.push(Effect::ReplaceBody(out));
        }
        cx.effects.extend(Self::values_metric(direction, state.report.total() - total));
        if first || end || state.report.total() != total || state.report.notes.len() != notes {
            let report = state.report.clone();
            Self::report(cx, direction, report);
        }
        cx.scratch.set(streams);
        Flow::Continue
    }

    /// After the request body: the response is declined when no profile applies to it.
    fn decline_response_if_unmasked(&self, cx: &mut Cx<'_>) {
        if matches!(self.profiles_for(cx, Direction::Response), Ok(Some(p)) if p.is_empty()) {
            cx.effects.push(Effect::SkipResponseBody);
        }
    }
}

/// Facts read from filter state when the stage runs as its own filter.
const READS_FACTS: [&str; 1] = [facts::DECISION.name()];

impl Stage for Masker {
    fn name(&self) -> &'static str {
        <Self as warden_kit::StageKind>::NAME
    }

    fn needs(&self) -> Needs {
        let any_route = |pick: fn(&Route) -> Option<usize>| self.routes.iter().any(|r| pick(r).is_some());
        let request = self.obligations || self.request.is_some() || any_route(|r| r.request);
        let response = self.obligations || self.response.is_some() || any_route(|r| r.response);
        Needs {
            request_body: if request { BodyNeed::Rewrite } else { BodyNeed::None },
            response_body: if response { BodyNeed::Rewrite } else { BodyNeed::None },
            reads_facts: &READS_FACTS,
            response_headers: true,
            max_body_bytes: Some(self.max_body_bytes),
            ..Needs::default()
        }
    }

    fn failure_mode(&self) -> FailureMode {
        self.failure_mode
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let flow = self.on_headers(cx, Direction::Request);
        // The response is declined as soon as it is known that no profile applies to it.
        if flow == Flow::Continue {
            self.decline_response_if_unmasked(cx);
        }
        flow
    }

    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        let flow = self.on_body(cx, Direction::Request);
        if flow == Flow::Continue {
            self.decline_response_if_unmasked(cx);
        }
        flow
    }

    fn on_request_chunk(&self, cx: &mut Cx<'_>, end: bool) -> Flow {
        let flow = self.on_chunk(cx, Direction::Request, end);
        if flow == Flow::Continue && end {
            self.decline_response_if_unmasked(cx);
        }
        flow
    }

    fn on_response_chunk(&self, cx: &mut Cx<'_>, end: bool) -> Flow {
        self.on_chunk(cx, Direction::Response, end)
    }

    fn on_response_headers(&self, cx: &mut Cx<'_>) -> Flow {
        if let Some(header) = &self.summary_header {
            let fact: Option<MaskingFact> = cx.facts.read(facts::MASKING);
            if let Some(request) = fact.and_then(|f| f.request).filter(|r| r.total() > 0) {
                let summary: Vec<String> = request.counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
                cx.effects.push(Effect::SetHeader {
                    map: HeaderMap::Response,
                    name: header.clone(),
                    value: summary.join(","),
                });
            }
        }
        self.on_headers(cx, Direction::Response)
    }

    fn on_response_body(&self, cx: &mut Cx<'_>) -> Flow {
        self.on_body(cx, Direction::Response)
    }
}
