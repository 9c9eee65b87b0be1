//! Callouts to a real HTTP server on loopback ([`super::ClusterScript::Live`]): one HTTP/1.1
//! exchange per callout, waited for in real time. A refused connection is a synthetic 503 and
//! a timeout a synthetic 504, as Envoy delivers them.

use crate::host::state::{CalloutDelivery, Pairs};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn synthetic(status: &str, body: &str) -> CalloutDelivery {
    CalloutDelivery {
        headers: vec![(":status".into(), status.as_bytes().to_vec())],
        body: body.as_bytes().to_vec(),
        trailers: Vec::new(),
    }
}

/// Sends the callout (`headers` with pseudo-headers, `body`) to `addr`; returns the real time
/// it took in ms and what to deliver.
pub fn call(addr: SocketAddr, headers: &Pairs, body: &[u8], timeout_ms: u64) -> (u64, CalloutDelivery) {
    let started = Instant::now();
    let timeout = Duration::from_millis(if timeout_ms == 0 { 60_000 } else { timeout_ms });
    let result = exchange(addr, headers, body, timeout);
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(delivery) => (elapsed, delivery),
        Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            (elapsed.max(timeout_ms), synthetic("504", "upstream request timeout"))
        }
        Err(_) => (
            elapsed,
            synthetic(
                "503",
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
            ),
        ),
    }
}

fn exchange(addr: SocketAddr, headers: &Pairs, body: &[u8], timeout: Duration) -> std::io::Result<CalloutDelivery> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let find =
        |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        find(":method").unwrap_or_else(|| "GET".into()),
        find(":path").unwrap_or_else(|| "/".into()),
        find(":authority").unwrap_or_default(),
        body.len()
    );
    for (name, value) in headers.iter().filter(|(k, _)| !k.starts_with(':') && k != "content-length" && k != "host") {
        head.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value)));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut parsed_headers);
    let invalid = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let httparse::Status::Complete(length) = response.parse(&raw).map_err(|_| invalid("bad response head"))? else {
        return Err(invalid("incomplete response head"));
    };
    let mut delivered: Pairs = vec![(":status".into(), response.code.unwrap_or(502).to_string().into_bytes())];
    let mut chunked = false;
    for h in response.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        chunked |= name == "transfer-encoding" && String::from_utf8_lossy(h.value).contains("chunked");
        delivered.push((name, h.value.to_vec()));
    }
    let rest = &raw[length..];
    let body = if chunked { dechunk(rest) } else { rest.to_vec() };
    Ok(CalloutDelivery { headers: delivered, body, trailers: Vec::new() })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 || data.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[(end + 4 + size).min(data.len())..];
    }
    out
}
