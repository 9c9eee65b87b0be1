//! The driver: one `wasi:http` request through the chain, as Envoy drives a filter (headers,
//! then the body piece by piece, held while the chain pauses; callouts waited for in place),
//! then forwarded upstream, and the response back through the chain to the client.

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::config::store;
use crate::bindings::wasi::http::types::{
    ErrorCode, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme,
};
use crate::bindings::wasi::io::streams::{InputStream, OutputStream};
use crate::bindings::wasi::random::random;
use crate::component_host::ComponentHost;
use crate::exchange::Exchange;
use crate::settings::Settings;
use crate::wire::{self, Sending};
use crate::Compile;
use std::cell::RefCell;
use std::rc::Rc;
use warden_kit::{Background, Chain, ChainRun, Host, LocalReply, LogLevel, Step};

/// What this instance compiled on its first request (or at pre-initialisation); every later
/// request of the instance reuses it (hosts that keep instances pay the compile once).
struct Instance {
    settings: Settings,
    chain: Chain,
    background: RefCell<Background>,
    /// Exchanges served so far (`connection.id` of the next one).
    served: std::cell::Cell<i64>,
    /// Whether the chain has this instance's own random seed (not yet when it was compiled
    /// before a snapshot: every instance started from the snapshot would share one).
    seeded: bool,
}

thread_local! {
    static INSTANCE: RefCell<Option<Rc<Instance>>> = const { RefCell::new(None) };
}

/// 16 bytes from the host's random source (a VM seed, a request id).
fn random_seed() -> [u8; 16] {
    let mut seed = [0u8; 16];
    for (slot, byte) in seed.iter_mut().zip(random::get_random_bytes(16)) {
        *slot = byte;
    }
    seed
}

/// Reads the settings and compiles the chain (not seeded yet).
fn compiled(plugin: &'static str, compile: Compile) -> Result<(Settings, Chain), String> {
    let settings = Settings::read(|key| {
        store::get(key).map_err(|e| match e {
            store::Error::Upstream(message) | store::Error::Io(message) => message,
        })
    })
    .map_err(|e| format!("{plugin}: configuration rejected: {e}"))?;
    let chain = compile(settings.config.as_bytes()).map_err(|e| format!("{plugin}: configuration rejected: {e}"))?;
    wire::stderr_line(&format!("[info] {plugin}: configured stages {:?}", chain.stage_names()));
    Ok((settings, chain))
}

/// An instance's state around `chain`.
fn instance_of(settings: Settings, chain: Chain, seeded: bool) -> Instance {
    Instance {
        background: RefCell::new(Background::new(chain.clone())),
        chain,
        settings,
        served: std::cell::Cell::new(0),
        seeded,
    }
}

/// The instance's compiled configuration: compiled now if this is its first request, given
/// this instance's own seed if it came from a snapshot.
fn instance(plugin: &'static str, compile: Compile) -> Result<Rc<Instance>, String> {
    let current = INSTANCE.with(|cell| cell.borrow().clone());
    let (settings, chain) = match current {
        Some(instance) if instance.seeded => return Ok(instance),
        Some(unseeded) => (unseeded.settings.clone(), unseeded.chain.clone()),
        None => compiled(plugin, compile)?,
    };
    let instance = Rc::new(instance_of(settings, chain.with_vm_seed(random_seed()), true));
    INSTANCE.with(|cell| *cell.borrow_mut() = Some(instance.clone()));
    Ok(instance)
}

/// Pre-initialisation (the `wizer-initialize` export): reads the settings and compiles the
/// chain into this instance's memory, for a snapshot to start every later instance from.
/// A configuration error is written to stderr and traps, failing the bake.
pub fn initialize(plugin: &'static str, compile: Compile) {
    match compiled(plugin, compile) {
        Ok((settings, chain)) => {
            INSTANCE.with(|cell| *cell.borrow_mut() = Some(Rc::new(instance_of(settings, chain, false))))
        }
        Err(message) => {
            wire::stderr_line(&format!("[error] {message}"));
            std::process::abort();
        }
    }
}

/// How a phase ended once its callouts were answered.
enum Settled {
    /// The stream goes on.
    Continue,
    /// The chain holds the body (more is needed).
    Hold,
    /// A stage answered the client.
    Replied,
}

/// Serves one request (the `wasi:http/incoming-handler` export).
pub fn serve(plugin: &'static str, compile: Compile, request: IncomingRequest, out: ResponseOutparam) {
    let instance = match instance(plugin, compile) {
        Ok(instance) => instance,
        Err(message) => {
            wire::stderr_line(&format!("[error] {message}"));
            let reply = LocalReply::new(500, "warden: configuration rejected (see the log)")
                .with_details("warden_configuration_rejected");
            let _ = respond(out, &reply);
            return;
        }
    };
    let connection_id = instance.served.get();
    instance.served.set(connection_id.wrapping_add(1));
    let exchange = Exchange {
        node_id: instance.settings.node_id.clone(),
        connection_id,
        method: wire::method_name(&request.method()),
        path: request.path_with_query().unwrap_or_else(|| "/".into()),
        authority: request.authority().unwrap_or_default(),
        scheme: match request.scheme() {
            Some(Scheme::Https) => "https".into(),
            Some(Scheme::Other(other)) => other,
            _ => "http".into(),
        },
        ..Exchange::default()
    };
    let mut host = ComponentHost::new(&instance.settings, plugin, exchange);
    host.exchange.started = Some(host.now());
    let mut driver = Driver { run: instance.chain.start(), host, out: Some(out), upstream: None };
    let Ended = driver.exchange(&instance, request);
    driver.run.on_log(&mut driver.host);
    if instance.settings.access_log {
        access_log(&driver.host);
    }
    drain(&instance, &mut driver.host);
}

/// One `[access]` line on stderr for the exchange: method, path, status, response code
/// details and the facts the stages exported (what Envoy's access log reads from filter
/// state). Facts never hold secrets; the query string is left out.
fn access_log(host: &ComponentHost<'_>) {
    let facts: serde_json::Map<String, serde_json::Value> = host
        .exported()
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(String::from_utf8_lossy(v).into_owned())))
        .collect();
    let exchange = &host.exchange;
    let line = serde_json::json!({
        "method": exchange.method,
        "path": exchange.path.split('?').next().unwrap_or_default(),
        "status": exchange.status,
        "details": exchange.details,
        "facts": facts,
    });
    wire::stderr_line(&format!("[access] {line}"));
}

/// Ships what the stages still hold (evidence batches) before the instance may end, and waits
/// for the answers; while the ledger fails, asks again after pauses until `warden_drain_ms`.
fn drain(instance: &Instance, host: &mut ComponentHost<'_>) {
    let Ok(mut background) = instance.background.try_borrow_mut() else { return };
    let deadline = monotonic_clock::now().saturating_add(instance.settings.drain.as_nanos() as u64);
    let mut pause = std::time::Duration::from_millis(50);
    // Bounded: each round ships one batch per stage (a ledger batch holds up to
    // `batch_records`), and a failing round waits.
    for _ in 0..64 {
        if background.drain(host) == 0 {
            return;
        }
        let mut failed = false;
        while let Some(token) = host.waiting_for() {
            let response = host.answer(token);
            failed |= !response.is_success();
            background.on_response(host, token, response);
        }
        if failed {
            // Ask again after a pause, until the drain time is spent.
            if monotonic_clock::now().saturating_add(pause.as_nanos() as u64) > deadline {
                host.log(
                    LogLevel::Error,
                    "warden: what this instance still held (evidence records) was not taken within \
                     warden_drain_ms: it is lost with the instance",
                );
                return;
            }
            monotonic_clock::subscribe_duration(pause.as_nanos() as u64).block();
            pause = (pause * 2).min(std::time::Duration::from_secs(1));
        }
    }
}

/// The exchange is over: answered, or abandoned after its response started.
struct Ended;

struct Driver<'a> {
    run: ChainRun,
    host: ComponentHost<'a>,
    out: Option<ResponseOutparam>,
    upstream: Option<Sending>,
}

/// Whether a request or response with these headers has no body.
fn no_body(headers: &[(String, String)]) -> bool {
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    get("transfer-encoding").is_none() && get("content-length").is_none_or(|len| len == "0")
}

impl Driver<'_> {
    /// Waits out the phase's callouts until the chain goes on, holds the body, or replies.
    fn settle(&mut self, mut step: Step) -> Settled {
        loop {
            if self.host.reply.is_some() {
                return Settled::Replied;
            }
            if step == Step::Continue {
                return Settled::Continue;
            }
            let Some(token) = self.host.waiting_for() else { return Settled::Hold };
            let response = self.host.answer(token);
            self.host.resumed = false;
            self.run.on_callout_response(&mut self.host, token, response);
            step = if self.host.resumed { Step::Continue } else { Step::Pause };
        }
    }

    fn exchange(&mut self, instance: &Instance, request: IncomingRequest) -> Ended {
        let headers = wire::header_list(&request.headers());
        let mut list = vec![
            (":method".to_string(), self.host.exchange.method.clone()),
            (":path".to_string(), self.host.exchange.path.clone()),
            (":authority".to_string(), self.host.exchange.authority.clone()),
            (":scheme".to_string(), self.host.exchange.scheme.clone()),
        ];
        list.extend(headers.into_iter().filter(|(k, _)| k != "host"));
        if !list.iter().any(|(k, _)| k == "x-request-id") {
            // As Envoy does: every request carries an id (stages and evidence name it by it).
            list.push(("x-request-id".into(), crate::exchange::request_id(random_seed())));
        }
        let end = no_body(&list);
        self.host.request = list;
        let step = self.run.on_request_headers(&mut self.host, end);
        match self.settle(step) {
            Settled::Replied => return self.reply(),
            Settled::Hold => return self.fail("the request headers phase held the stream"),
            Settled::Continue => {}
        }
        let body = request.consume().ok();
        if end {
            if let Err(error) = self.forward(instance) {
                return self.upstream_failed(&error);
            }
        } else if let Some(body) = &body {
            if let Some(ended) = self.request_body(instance, body) {
                return ended;
            }
        }
        if let Some(body) = body {
            let _ = IncomingBody::finish(body);
        }
        let Some(upstream) = self.upstream.as_mut() else { return self.fail("nothing was forwarded") };
        if let Err(error) = upstream.finish() {
            return self.upstream_failed(&error);
        }
        let response = upstream.response(None);
        match response {
            Ok(response) => self.respond_upstream(response),
            Err(error) => self.upstream_failed(&error),
        }
    }

    /// The request body, piece by piece: held while the chain pauses, forwarded when it goes
    /// on. `Some(())` when the exchange ended here (a reply or a failure).
    fn request_body(&mut self, instance: &Instance, body: &IncomingBody) -> Option<Ended> {
        let Ok(stream) = body.stream() else { return Some(self.fail("the request body could not be read")) };
        loop {
            let (piece, end) = match wire::read_piece(&stream) {
                Ok(Some(piece)) => (piece, false),
                Ok(None) => (Vec::new(), true),
                Err(_) => return Some(self.fail("the client's request body broke off")),
            };
            self.host.exchange.request_bytes += piece.len() as u64;
            self.host.request_body.extend_from_slice(&piece);
            let size = self.host.request_body.len();
            let step = self.run.on_request_body(&mut self.host, size, end);
            match self.settle(step) {
                Settled::Replied => return Some(self.reply()),
                Settled::Hold if end => return Some(self.fail("the request body phase held the stream")),
                Settled::Hold => {}
                Settled::Continue => {
                    if self.upstream.is_none() {
                        if let Err(error) = self.forward(instance) {
                            return Some(self.upstream_failed(&error));
                        }
                    }
                    let held = std::mem::take(&mut self.host.request_body);
                    if let Some(Err(error)) = self.upstream.as_mut().map(|u| u.write(&held)) {
                        return Some(self.upstream_failed(&error));
                    }
                }
            }
            if end {
                return None;
            }
        }
    }

    /// Starts the upstream request with the headers as the chain left them.
    fn forward(&mut self, instance: &Instance) -> Result<(), ErrorCode> {
        let header = |name: &str| self.host.request.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let method = header(":method").unwrap_or_else(|| "GET".into());
        let path = header(":path").unwrap_or_else(|| "/".into());
        // The client's own x-forwarded-host is never passed on: the upstream learns the
        // authority the client asked for from Warden only.
        let mut headers: Vec<(String, String)> =
            self.host.request.iter().filter(|(k, _)| k != "x-forwarded-host").cloned().collect();
        if let Some(authority) = header(":authority") {
            headers.push(("x-forwarded-host".into(), authority));
        }
        self.upstream = Some(wire::send(&instance.settings.upstream, &method, &path, &headers, None)?);
        Ok(())
    }

    /// The upstream's response through the response phases to the client.
    fn respond_upstream(&mut self, response: crate::bindings::wasi::http::types::IncomingResponse) -> Ended {
        let status = response.status();
        let mut list = vec![(":status".to_string(), status.to_string())];
        list.extend(wire::header_list(&response.headers()));
        // A response without content-length or chunked framing still has a body (until the
        // connection closes): only these have none.
        let empty_length = list.iter().any(|(k, v)| k == "content-length" && v.trim() == "0");
        let end = status == 204 || status == 304 || self.host.exchange.method == "HEAD" || empty_length;
        self.host.exchange.status = status;
        self.host.exchange.details = "via_upstream".into();
        self.host.response = list;
        let step = self.run.on_response_headers(&mut self.host, end);
        match self.settle(step) {
            Settled::Replied => return self.reply(),
            Settled::Hold if end => return self.fail("the response headers phase held the stream"),
            Settled::Hold | Settled::Continue => {}
        }
        let Ok(body) = response.consume() else { return self.fail("the upstream response body could not be read") };
        let Ok(stream) = body.stream() else { return self.fail("the upstream response body could not be read") };
        let mut sent: Option<(OutgoingBody, OutputStream)> = None;
        if end {
            sent = self.commit();
        } else if let Some(ended) = self.response_body(&stream, &mut sent) {
            // Dropped unfinished: a client that already has the head sees the body break off.
            drop(sent);
            return ended;
        }
        drop(stream);
        let _ = IncomingBody::finish(body);
        if let Some((body, stream)) = sent {
            drop(stream);
            let _ = OutgoingBody::finish(body, None);
        }
        Ended
    }

    /// The response body piece by piece; headers go to the client with the first piece the
    /// chain lets go (a reply is still possible until then). `Some(())` when it ended early.
    fn response_body(
        &mut self,
        stream: &InputStream,
        sent: &mut Option<(OutgoingBody, OutputStream)>,
    ) -> Option<Ended> {
        loop {
            let (piece, end) = match wire::read_piece(stream) {
                Ok(Some(piece)) => (piece, false),
                Ok(None) => (Vec::new(), true),
                Err(_) => {
                    self.host.log(LogLevel::Warn, "warden: the upstream response body broke off");
                    (Vec::new(), true)
                }
            };
            self.host.response_body.extend_from_slice(&piece);
            let size = self.host.response_body.len();
            let step = self.run.on_response_body(&mut self.host, size, end);
            match self.settle(step) {
                Settled::Replied if sent.is_none() => return Some(self.reply()),
                Settled::Replied => {
                    // The headers are out: the client sees the body break off (fail closed).
                    self.host.log(LogLevel::Error, "warden: a reply after the response started: stream reset");
                    return Some(Ended);
                }
                Settled::Hold if end => return Some(self.fail("the response body phase held the stream")),
                Settled::Hold => {}
                Settled::Continue => {
                    if sent.is_none() {
                        *sent = self.commit();
                    }
                    let held = std::mem::take(&mut self.host.response_body);
                    self.host.exchange.response_bytes += held.len() as u64;
                    if let Some((_, out)) = sent.as_ref() {
                        if wire::write_all(out, &held).is_err() {
                            return Some(Ended); // the client went away
                        }
                    }
                }
            }
            if end {
                return None;
            }
        }
    }

    /// Sends the response head as the chain left it; returns the body to write.
    fn commit(&mut self) -> Option<(OutgoingBody, OutputStream)> {
        let out = self.out.take()?;
        let status = self
            .host
            .response
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(self.host.exchange.status);
        let response = OutgoingResponse::new(wire::fields(&self.host.response));
        let _ = response.set_status_code(status);
        let body = response.body().ok()?;
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().ok()?;
        Some((body, stream))
    }

    /// Sends the local reply a stage asked for.
    fn reply(&mut self) -> Ended {
        let Some(reply) = self.host.reply.take() else { return Ended };
        self.host.exchange.status = reply.status;
        self.host.exchange.details = reply.details.clone();
        self.host.exchange.response_bytes = reply.body.len() as u64;
        drop(self.upstream.take()); // a request started upstream is abandoned
        if let Some(out) = self.out.take() {
            let _ = respond(out, &reply);
        }
        Ended
    }

    /// Fails closed with a 500 (and says why in the log).
    fn fail(&mut self, why: &str) -> Ended {
        self.host.log(LogLevel::Error, &format!("warden: {why}: request refused"));
        self.host.reply = Some(LocalReply::new(500, "internal error").with_details("warden_component_error"));
        self.reply()
    }

    /// The upstream could not be reached: 503 (504 on a timeout), as Envoy answers.
    fn upstream_failed(&mut self, error: &ErrorCode) -> Ended {
        self.host.log(LogLevel::Warn, &format!("warden: upstream request failed: {error:?}"));
        let reply = if wire::is_timeout(error) {
            LocalReply::new(504, "upstream request timeout").with_details("upstream_response_timeout")
        } else {
            LocalReply::new(503, "upstream connect error").with_details("upstream_reset_before_response_started")
        };
        self.host.reply = Some(reply);
        self.reply()
    }
}

/// Answers with `reply` (plain text unless it says otherwise).
fn respond(out: ResponseOutparam, reply: &LocalReply) -> Result<(), ErrorCode> {
    let mut headers = reply.headers.clone();
    if !reply.body.is_empty() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        headers.push(("content-type".into(), "text/plain".into()));
    }
    headers.push(("content-length".into(), reply.body.len().to_string()));
    let response = OutgoingResponse::new(wire::fields(&headers));
    let _ = response.set_status_code(reply.status);
    let body = response.body().map_err(|()| ErrorCode::InternalError(None))?;
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().map_err(|()| ErrorCode::InternalError(None))?;
    let written = wire::write_all(&stream, reply.body.as_bytes());
    drop(stream);
    OutgoingBody::finish(body, None)?;
    written.map_err(|_| ErrorCode::InternalError(None))
}
