//! `wasi:http` and `wasi:io` helpers: header lists, whole-body reads and writes, waiting with
//! a deadline, and sending one outgoing request. Nothing here panics; failures are values.

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use crate::bindings::wasi::io::poll;
use crate::bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
use crate::settings::{Endpoint, Scheme as UrlScheme};
use std::time::Duration;

/// Largest piece read from a body stream at once.
pub const READ_CHUNK: u64 = 64 * 1024;
/// `wasi:io` accepts at most 4,096 bytes per blocking write.
const WRITE_CHUNK: usize = 4096;

/// Headers no `wasi:http` host lets a component set (hop-by-hop, or the host's own).
const NOT_FORWARDED: [&str; 8] =
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "te"];

/// A header list as `wasi:http` fields: pseudo-headers and hop-by-hop headers left out, and a
/// header the host refuses (forbidden or invalid) skipped.
pub fn fields(headers: &[(String, String)]) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers {
        if name.starts_with(':') || NOT_FORWARDED.contains(&name.as_str()) {
            continue;
        }
        let _ = fields.append(name, value.as_bytes());
    }
    fields
}

/// Fields as a lowercase list of text headers (values that are not UTF-8 are kept lossily).
pub fn header_list(fields: &Fields) -> Vec<(String, String)> {
    fields
        .entries()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

/// The `wasi:http` method for a method name.
pub fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_string()),
    }
}

/// A method's name.
pub fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// Writes a line to stderr (the host's log); a failed write is dropped.
pub fn stderr_line(text: &str) {
    let stream = crate::bindings::wasi::cli::stderr::get_stderr();
    let _ = write_all(&stream, format!("{text}\n").as_bytes());
}

/// Writes all of `bytes` to `stream`.
pub fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    for piece in bytes.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(piece)?;
    }
    Ok(())
}

/// Reads the next piece of a body: `Ok(None)` at its end.
pub fn read_piece(stream: &InputStream) -> Result<Option<Vec<u8>>, StreamError> {
    match stream.blocking_read(READ_CHUNK) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StreamError::Closed) => Ok(None),
        Err(err) => Err(err),
    }
}

/// An outgoing request being sent: its body stream stays open until [`Sending::finish`].
pub struct Sending {
    /// The response to come.
    pub response: FutureIncomingResponse,
    body: Option<OutgoingBody>,
    stream: Option<OutputStream>,
}

impl Sending {
    /// Writes more of the request body.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ErrorCode> {
        match &self.stream {
            Some(stream) => write_all(stream, bytes).map_err(|_| ErrorCode::HttpRequestBodySize(None)),
            None => Err(ErrorCode::InternalError(Some("the request body is closed".into()))),
        }
    }

    /// Ends the request body.
    pub fn finish(&mut self) -> Result<(), ErrorCode> {
        drop(self.stream.take());
        match self.body.take() {
            Some(body) => OutgoingBody::finish(body, None),
            None => Ok(()),
        }
    }

    /// Waits for the response head until `timeout` (none: as long as the host allows).
    pub fn response(&self, timeout: Option<Duration>) -> Result<IncomingResponse, ErrorCode> {
        let ready = self.response.subscribe();
        match timeout {
            Some(timeout) => {
                let timer = monotonic_clock::subscribe_duration(nanos(timeout));
                while !ready.ready() {
                    let woke = poll::poll(&[&ready, &timer]);
                    if woke.contains(&1) && !ready.ready() {
                        return Err(ErrorCode::ConnectionReadTimeout);
                    }
                }
            }
            None => ready.block(),
        }
        match self.response.get() {
            Some(Ok(result)) => result,
            _ => Err(ErrorCode::InternalError(Some("the response was taken already".into()))),
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Starts a request to `endpoint` (the body follows through [`Sending::write`]).
pub fn send(
    endpoint: &Endpoint,
    method_name: &str,
    path: &str,
    headers: &[(String, String)],
    timeout: Option<Duration>,
) -> Result<Sending, ErrorCode> {
    let request = OutgoingRequest::new(fields(headers));
    let refused = |what: &str| ErrorCode::InternalError(Some(format!("the host refused the request's {what}")));
    request.set_method(&method(method_name)).map_err(|()| refused("method"))?;
    request.set_path_with_query(Some(&endpoint.path(path))).map_err(|()| refused("path"))?;
    let scheme = match endpoint.scheme {
        UrlScheme::Http => Scheme::Http,
        UrlScheme::Https => Scheme::Https,
    };
    request.set_scheme(Some(&scheme)).map_err(|()| refused("scheme"))?;
    request.set_authority(Some(&endpoint.authority)).map_err(|()| refused("authority"))?;
    let options = timeout.map(|timeout| {
        let options = RequestOptions::new();
        // A host that does not support a timeout keeps its own; the wait below still ends.
        let _ = options.set_connect_timeout(Some(nanos(timeout)));
        let _ = options.set_first_byte_timeout(Some(nanos(timeout)));
        let _ = options.set_between_bytes_timeout(Some(nanos(timeout)));
        options
    });
    let body = request.body().map_err(|()| refused("body"))?;
    let response = outgoing_handler::handle(request, options)?;
    let stream = body.write().map_err(|()| refused("body stream"))?;
    Ok(Sending { response, body: Some(body), stream: Some(stream) })
}

/// Reads a whole response body, up to `limit` bytes (more is an error).
pub fn read_body(response: IncomingResponse, limit: usize) -> Result<Vec<u8>, ErrorCode> {
    let body = response.consume().map_err(|()| ErrorCode::InternalError(Some("body taken".into())))?;
    let bytes = read_all(&body, limit);
    let _ = IncomingBody::finish(body);
    bytes
}

fn read_all(body: &IncomingBody, limit: usize) -> Result<Vec<u8>, ErrorCode> {
    let stream = body.stream().map_err(|()| ErrorCode::InternalError(Some("body stream taken".into())))?;
    let mut bytes = Vec::new();
    loop {
        match read_piece(&stream) {
            Ok(Some(piece)) => {
                bytes.extend_from_slice(&piece);
                if bytes.len() > limit {
                    return Err(ErrorCode::HttpResponseBodySize(Some(u64::try_from(limit).unwrap_or(u64::MAX))));
                }
            }
            Ok(None) => return Ok(bytes),
            Err(_) => return Err(ErrorCode::HttpResponseIncomplete),
        }
    }
}

/// Whether an error is a timeout (answered as Envoy does: 504) rather than a failure (503).
pub fn is_timeout(error: &ErrorCode) -> bool {
    matches!(error, ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout)
}
