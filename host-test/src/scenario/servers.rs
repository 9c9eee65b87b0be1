//! Loopback HTTP servers the Envoy backend points clusters at: they answer from the
//! scenario's script and record what they received.

use super::format::{Matcher, ResponseDef};
use super::observed::UpstreamView;
use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The client's progress through the current response, shared with the upstream server so it
/// can hold back a last chunk until the client has what the scenario expects.
#[derive(Debug, Default)]
pub struct StreamProbe {
    /// Response body the client has received so far (de-chunked).
    pub received: Mutex<Vec<u8>>,
    /// What the client should have before the last chunk is sent (stop waiting early).
    pub want: Mutex<Option<Matcher>>,
    /// What the client had when the last chunk was sent.
    pub before_last_chunk: Mutex<Option<Vec<u8>>>,
}

impl StreamProbe {
    /// Ready for the next request, which expects `want` before the last chunk.
    pub fn reset(&self, want: Option<Matcher>) {
        if let Ok(mut received) = self.received.lock() {
            received.clear();
        }
        if let Ok(mut slot) = self.want.lock() {
            *slot = want;
        }
        if let Ok(mut before) = self.before_last_chunk.lock() {
            *before = None;
        }
    }

    /// Waits up to `hold` for the client to have what is wanted, then records what it has.
    fn wait_and_record(&self, hold: Duration) {
        let deadline = Instant::now() + hold;
        let want = self.want.lock().ok().and_then(|w| w.clone());
        let received = || self.received.lock().map(|r| r.clone()).unwrap_or_default();
        while Instant::now() < deadline {
            if want.as_ref().is_some_and(|m| m.accepts(&String::from_utf8_lossy(&received()))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Ok(mut before) = self.before_last_chunk.lock() {
            *before = Some(received());
        }
    }
}

/// Writes a chunked response by hand, flushing each chunk, and holds the last one back for
/// `hold` (see [`StreamProbe`]). Errors mean Envoy went away; the scenario reports that.
fn respond_holding_last_chunk(
    writer: &mut dyn Write,
    script: &ResponseDef,
    chunks: &[Vec<u8>],
    probe: Option<&StreamProbe>,
) -> std::io::Result<()> {
    let status = tiny_http::StatusCode(script.status);
    let mut head = format!("HTTP/1.1 {} {}\r\n", script.status, status.default_reason_phrase());
    for (k, v) in &script.headers {
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("transfer-encoding") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    writer.write_all(head.as_bytes())?;
    writer.flush()?;
    for (n, chunk) in chunks.iter().enumerate() {
        if n + 1 == chunks.len() {
            let hold = Duration::from_millis(script.hold_last_chunk_ms);
            match probe {
                Some(probe) => probe.wait_and_record(hold),
                None => std::thread::sleep(hold),
            }
        }
        writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        writer.write_all(chunk)?;
        writer.write_all(b"\r\n")?;
        writer.flush()?;
    }
    writer.write_all(b"0\r\n\r\n")?;
    writer.flush()
}

/// Requests received by every server of a run, in arrival order.
pub type Received = Arc<Mutex<Vec<UpstreamView>>>;

/// A scripted server on 127.0.0.1 (ephemeral port); stops when dropped.
pub struct ScriptedServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Starts a server named `cluster` answering `responses` in turn (the last repeats);
    /// `probe` tells it how far the client got, for responses that hold back a last chunk.
    pub fn start(
        cluster: &str,
        responses: Vec<ResponseDef>,
        received: Received,
        probe: Option<Arc<StreamProbe>>,
    ) -> anyhow::Result<Self> {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|e| anyhow::anyhow!("cannot start a loopback server: {e}"))?;
        let addr = server.server_addr().to_ip().ok_or_else(|| anyhow::anyhow!("loopback server has no IP address"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let cluster = cluster.to_string();
        let thread = std::thread::spawn(move || {
            let mut served = 0usize;
            while !stop_flag.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let mut body = Vec::new();
                if request.as_reader().read_to_end(&mut body).is_err() {
                    continue; // Envoy reset the upstream request: it never arrived whole.
                }
                let view = UpstreamView {
                    cluster: cluster.clone(),
                    method: request.method().as_str().to_string(),
                    path: request.url().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                if let Ok(mut all) = received.lock() {
                    all.push(view);
                }
                let script = responses.get(served.min(responses.len().saturating_sub(1))).cloned().unwrap_or_default();
                served += 1;
                if script.delay_ms > 0 {
                    std::thread::sleep(Duration::from_millis(script.delay_ms));
                }
                let chunks = script.body_chunks();
                if script.hold_last_chunk_ms > 0 && chunks.len() >= 2 {
                    let mut writer = request.into_writer();
                    let _ = respond_holding_last_chunk(&mut writer, &script, &chunks, probe.as_deref());
                    continue;
                }
                let mut headers: Vec<tiny_http::Header> = script
                    .headers
                    .iter()
                    .filter_map(|(k, v)| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
                    .collect();
                if chunks.len() > 1 {
                    headers.retain(|h| !h.field.equiv("content-length"));
                }
                let body = chunks.concat();
                let length = if chunks.len() > 1 { None } else { Some(body.len()) };
                let mut response = tiny_http::Response::new(
                    tiny_http::StatusCode(script.status),
                    headers,
                    Cursor::new(body),
                    length,
                    None,
                );
                if chunks.len() > 1 {
                    response = response.with_chunked_threshold(0);
                }
                let _ = request.respond(response);
            }
        });
        Ok(ScriptedServer { addr, stop, thread: Some(thread) })
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback port nothing listens on (bound, then released), for clusters that are down.
pub fn closed_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
