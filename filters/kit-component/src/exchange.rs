//! What is known about one request/response exchange, answered as Envoy attributes
//! (`request.path`, `response.code`, ...) so stages read the same properties under every host.
//! `wasi:http` 0.2 tells a component nothing about the connection: `source.address`,
//! `connection.mtls` and the peer certificate are absent (stages treat them as unknown). Pure.

use std::time::{Duration, SystemTime};

/// The attributes of one exchange, filled in as it goes.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// The node name (`xds.node.id`).
    pub node_id: String,
    /// A number for this instance's exchanges (`connection.id`).
    pub connection_id: i64,
    /// Request method, path with query, authority, scheme as the client sent them.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Authority (`Host`).
    pub authority: String,
    /// `http` or `https`.
    pub scheme: String,
    /// When the request reached the component.
    pub started: Option<SystemTime>,
    /// Request body bytes received.
    pub request_bytes: u64,
    /// The response status (upstream's or a local reply's); 0 before there is one.
    pub status: u16,
    /// `via_upstream`, or a local reply's details.
    pub details: String,
    /// Response body bytes sent.
    pub response_bytes: u64,
}

/// A request id as Envoy makes one (a random UUID, version 4) from 16 random bytes.
pub fn request_id(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = warden_kit::hex::encode(&bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn int(value: i64) -> Option<Vec<u8>> {
    Some(value.to_le_bytes().to_vec())
}

fn text(value: &str) -> Option<Vec<u8>> {
    (!value.is_empty()).then(|| value.as_bytes().to_vec())
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Exchange {
    /// The attribute at `path` in Envoy's encoding (strings as bytes, integers as 8 bytes
    /// little-endian), at time `now`; `None` when unknown or not available under `wasi:http`.
    pub fn property(&self, path: &[&str], now: SystemTime) -> Option<Vec<u8>> {
        match path {
            ["xds", "node", "id"] => text(&self.node_id),
            ["connection", "id"] => int(self.connection_id),
            ["connection", "mtls"] => Some(vec![0]),
            ["request", "method"] => text(&self.method),
            ["request", "path"] => text(&self.path),
            ["request", "url_path"] => text(self.path.split('?').next().unwrap_or_default()),
            ["request", "host"] => text(&self.authority),
            ["request", "scheme"] => text(&self.scheme),
            ["request", "total_size"] => int(clamp(self.request_bytes)),
            ["request", "duration"] => {
                let started = self.started?;
                int(clamp(
                    u64::try_from(now.duration_since(started).unwrap_or(Duration::ZERO).as_nanos()).unwrap_or(u64::MAX),
                ))
            }
            ["response", "code"] if self.status != 0 => int(i64::from(self.status)),
            ["response", "code_details"] => text(&self.details),
            ["response", "flags"] => int(0),
            ["response", "total_size"] => int(clamp(self.response_bytes)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange {
            node_id: "edge-1".into(),
            method: "POST".into(),
            path: "/mcp?session=1".into(),
            authority: "tools.example".into(),
            scheme: "http".into(),
            started: Some(SystemTime::UNIX_EPOCH),
            ..Exchange::default()
        }
    }

    #[test]
    fn request_attributes_are_answered_in_envoys_encoding() {
        let x = exchange();
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(3);
        assert_eq!(x.property(&["request", "url_path"], now), Some(b"/mcp".to_vec()));
        assert_eq!(x.property(&["xds", "node", "id"], now), Some(b"edge-1".to_vec()));
        assert_eq!(x.property(&["request", "duration"], now), Some(3_000_000i64.to_le_bytes().to_vec()));
    }

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = request_id([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(request_id([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn what_wasi_http_does_not_tell_is_absent() {
        let x = exchange();
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(x.property(&["source", "address"], now), None);
        assert_eq!(x.property(&["connection", "uri_san_peer_certificate"], now), None);
        assert_eq!(x.property(&["response", "code"], now), None, "no response yet");
        let answered = Exchange { status: 502, details: "warden_body_too_large".into(), ..x };
        assert_eq!(answered.property(&["response", "code"], now), Some(502i64.to_le_bytes().to_vec()));
    }
}
