//! Loopback HTTP servers the Envoy backend points clusters at: they answer from the
//! scenario's script and record what they received.

use super::format::ResponseDef;
use super::observed::UpstreamView;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// Starts a server named `cluster` answering `responses` in turn (the last repeats).
    pub fn start(cluster: &str, responses: Vec<ResponseDef>, received: Received) -> anyhow::Result<Self> {
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
