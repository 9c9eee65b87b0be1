//! A small HTTP/1.1 client for the Envoy backend: exact control over what is sent (chunked
//! bodies) and an exact account of how the stream ended (complete, reset, or timed out).

use crate::proxy::Outcome;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection the client can talk HTTP/1.1 over: plain TCP or TLS on TCP.
trait Transport: Read + Write {
    /// Bounds the next read.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl Transport for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }
}

/// What the client saw.
#[derive(Debug, Default)]
pub struct ClientResponse {
    /// How the exchange ended.
    pub outcome: Option<Outcome>,
    /// Status, if a response head arrived.
    pub status: Option<u16>,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

/// A request to send.
pub struct ClientRequest<'a> {
    /// Method.
    pub method: &'a str,
    /// Path with query.
    pub path: &'a str,
    /// Host header.
    pub authority: &'a str,
    /// Other headers.
    pub headers: &'a [(String, String)],
    /// Body chunks; `chunked` sends them with chunked transfer encoding.
    pub chunks: Vec<&'a [u8]>,
    /// Use chunked transfer encoding.
    pub chunked: bool,
    /// Trailers after the last chunk (needs `chunked`).
    pub trailers: &'a [(String, String)],
    /// Give up after this long.
    pub timeout: Duration,
    /// Where to keep the response body received so far (de-chunked), while it arrives.
    pub progress: Option<&'a std::sync::Mutex<Vec<u8>>>,
}

/// Sends `request` to `addr` on a fresh connection and reads the whole response; over TLS
/// (server name `127.0.0.1`) when `tls` is given.
pub fn send(
    addr: SocketAddr,
    request: &ClientRequest<'_>,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> std::io::Result<ClientResponse> {
    let deadline = Instant::now() + request.timeout;
    let tcp = TcpStream::connect_timeout(&addr, request.timeout)?;
    tcp.set_nodelay(true)?;
    match tls {
        None => exchange(tcp, request, deadline),
        Some(config) => {
            let name = rustls::pki_types::ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
            let connection = rustls::ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
            exchange(rustls::StreamOwned::new(connection, tcp), request, deadline)
        }
    }
}

fn exchange(
    mut stream: impl Transport,
    request: &ClientRequest<'_>,
    deadline: Instant,
) -> std::io::Result<ClientResponse> {
    let mut head = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", request.method, request.path, request.authority);
    for (k, v) in request.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if request.chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else if !request.chunks.is_empty() {
        let len: usize = request.chunks.iter().map(|c| c.len()).sum();
        head.push_str(&format!("content-length: {len}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    for chunk in &request.chunks {
        if request.chunked {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            stream.write_all(chunk)?;
            stream.write_all(b"\r\n")?;
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(20));
        } else {
            stream.write_all(chunk)?;
        }
    }
    if request.chunked {
        stream.write_all(b"0\r\n")?;
        for (k, v) in request.trailers {
            stream.write_all(format!("{k}: {v}\r\n").as_bytes())?;
        }
        stream.write_all(b"\r\n")?;
    }
    stream.flush()?;
    Ok(read_response(&mut stream, deadline, request.progress))
}

struct Conn<'a, T: Transport> {
    stream: &'a mut T,
    deadline: Instant,
    closed: bool,
    timed_out: bool,
}

impl<T: Transport> Conn<'_, T> {
    /// Reads more bytes into `buf`; false when the peer closed or time ran out.
    fn read_more(&mut self, buf: &mut Vec<u8>) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            self.timed_out = true;
            return false;
        }
        let _ = self.stream.set_read_timeout(Some(self.deadline - now));
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                self.timed_out = true;
                false
            }
            Err(_) => {
                self.closed = true;
                false
            }
        }
    }
}

fn read_response(
    stream: &mut impl Transport,
    deadline: Instant,
    progress: Option<&std::sync::Mutex<Vec<u8>>>,
) -> ClientResponse {
    let mut response = ClientResponse::default();
    let mut buf = Vec::new();
    let mut conn = Conn { stream, deadline, closed: false, timed_out: false };
    let head_len = loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                response.status = parsed.code;
                response.headers = parsed
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                break len;
            }
            Ok(httparse::Status::Partial) => {
                if !conn.read_more(&mut buf) {
                    response.outcome = Some(if conn.timed_out { Outcome::Timeout } else { Outcome::Reset });
                    return response;
                }
            }
            Err(_) => {
                response.outcome = Some(Outcome::Reset);
                return response;
            }
        }
    };
    let mut body = buf.split_off(head_len);
    let header = |name: &str| response.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length: Option<usize> = header("content-length").and_then(|v| v.trim().parse().ok());
    let complete = loop {
        if chunked {
            let (decoded, complete) = dechunk(&body);
            if let Some(progress) = progress {
                if let Ok(mut seen) = progress.lock() {
                    *seen = decoded.clone();
                }
            }
            if complete {
                body = decoded;
                break true;
            }
        } else if let Some(len) = length {
            if body.len() >= len {
                body.truncate(len);
                break true;
            }
        } else if conn.closed {
            break true;
        }
        if !conn.read_more(&mut body) {
            break !chunked && length.is_none() && conn.closed;
        }
    };
    response.body = body;
    response.outcome = Some(match (complete, conn.timed_out) {
        (true, _) => Outcome::Complete,
        (false, true) => Outcome::Timeout,
        (false, false) => Outcome::Reset,
    });
    response
}

/// Decodes the complete chunks of a chunked body; `true` once the terminating chunk arrived.
fn dechunk(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = raw.get(at..).and_then(|rest| rest.windows(2).position(|w| w == b"\r\n")) else {
            return (out, false);
        };
        let line_end = line_end + at;
        let size_text = String::from_utf8_lossy(&raw[at..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16) else {
            return (out, false);
        };
        at = line_end + 2;
        if size == 0 {
            return (out, true);
        }
        let Some(chunk) = raw.get(at..at + size) else { return (out, false) };
        out.extend_from_slice(chunk);
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn dechunk_waits_for_the_last_chunk() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nd"), (b"abc".to_vec(), false), "complete chunks so far");
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), (b"abcde".to_vec(), true));
    }
}
