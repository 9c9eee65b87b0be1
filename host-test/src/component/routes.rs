//! Where a component's outgoing requests go: by authority, to a scripted cluster or upstream
//! (answered in process, in virtual time) or, for any other authority, over the network (a
//! real service a scenario started). Every request is recorded.

use crate::proxy::ScriptedResponse;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// How a scripted authority answers.
#[derive(Debug, Clone)]
pub enum Script {
    /// Refuses connections.
    Down,
    /// These responses in turn; the last repeats.
    Responds(Vec<ScriptedResponse>),
    /// A `wasi:http` handler component answers (host-side chaining: the request goes to the
    /// handler's `incoming-handler` in a new instance, as a platform chaining components does).
    Handler(Arc<super::ComponentServer>),
}

impl std::fmt::Debug for super::ComponentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComponentServer")
    }
}

/// One outgoing request as it left the component.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Authority it was sent to.
    pub authority: String,
    /// Method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Headers (lowercase names; `host` included).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// The routing table of one run.
#[derive(Default)]
pub struct Routes {
    scripts: BTreeMap<String, Script>,
    answered: Mutex<BTreeMap<String, usize>>,
    sent: Mutex<Vec<Sent>>,
    /// A response slower than this (from the request's own first-byte timeout, else this
    /// default) is a timeout.
    pub default_timeout: Option<Duration>,
}

impl Routes {
    /// Routes with these scripted authorities; any other goes over the network.
    pub fn new(scripts: BTreeMap<String, Script>, default_timeout: Option<Duration>) -> Routes {
        Routes { scripts, default_timeout, ..Routes::default() }
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn next_response(&self, authority: &str, responses: &[ScriptedResponse]) -> Option<ScriptedResponse> {
        let mut answered = self.answered.lock().ok()?;
        let count = answered.entry(authority.to_string()).or_insert(0);
        let response = responses.get((*count).min(responses.len().saturating_sub(1))).cloned();
        *count += 1;
        response
    }

    async fn send(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let authority = parts.uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let path = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(Sent {
                authority: authority.clone(),
                method: parts.method.to_string(),
                path,
                headers,
                body: body.to_vec(),
            });
        }
        let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
        match self.scripts.get(&authority) {
            Some(Script::Down) => Err(Error::ConnectionRefused),
            Some(Script::Responds(responses)) => {
                let Some(scripted) = self.next_response(&authority, responses) else {
                    return Err(Error::ConnectionRefused);
                };
                let timeout = options.and_then(|o| o.first_byte_timeout).or(self.default_timeout);
                if timeout.is_some_and(|t| Duration::from_millis(scripted.delay_ms) >= t) {
                    return Err(Error::ConnectionReadTimeout);
                }
                let mut response = http::Response::builder().status(scripted.status);
                for (name, value) in &scripted.headers {
                    response = response.header(name.as_str(), value.as_slice());
                }
                // As an HTTP/1 server: a body in one piece has a length, several go chunked.
                if scripted.chunks.len() <= 1 && !scripted.headers.iter().any(|(k, _)| k == "content-length") {
                    let length = scripted.chunks.first().map_or(0, Vec::len);
                    response = response.header("content-length", length);
                }
                let body: Vec<u8> = scripted.chunks.concat();
                let body = Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync();
                let response = response.body(body).map_err(|_| Error::HttpProtocolError)?;
                Ok((response, done))
            }
            Some(Script::Handler(handler)) => {
                let handler = handler.clone();
                let request = super::Request {
                    method: parts.method.to_string(),
                    path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into()),
                    authority,
                    headers: parts
                        .headers
                        .iter()
                        .filter(|(k, _)| k.as_str() != "host")
                        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect(),
                    body: body.to_vec(),
                    timeout: self.default_timeout.unwrap_or(Duration::from_secs(30)),
                };
                let answer = tokio::task::spawn_blocking(move || handler.handle(&request))
                    .await
                    .map_err(|_| Error::ConnectionTerminated)?
                    .map_err(|_| Error::ConnectionTerminated)?;
                let Some(status) = answer.status else { return Err(Error::ConnectionTerminated) };
                let mut response = http::Response::builder().status(status);
                for (name, value) in &answer.headers {
                    response = response.header(name.as_str(), value.as_str());
                }
                let body = Full::new(Bytes::from(answer.body)).map_err(|never| match never {}).boxed_unsync();
                Ok((response.body(body).map_err(|_| Error::HttpProtocolError)?, done))
            }
            None => {
                let body = Full::new(body).map_err(|never| match never {}).boxed_unsync();
                let request = http::Request::from_parts(parts, body);
                let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
                Ok((response.map(BodyExt::boxed_unsync), Box::new(io)))
            }
        }
    }
}

/// The hooks a store's `wasi:http` uses: outgoing requests through [`Routes`].
pub struct RouteHooks(pub Arc<Routes>);

impl WasiHttpHooks for RouteHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>,
            > + Send,
    > {
        Box::new(self.0.clone().send(request, options))
    }
}
