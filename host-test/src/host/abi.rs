//! Numeric values of the proxy-wasm ABI 0.2.1 and the wire encodings of its maps and paths.

/// Result codes returned by hostcalls (`WasmResult` in Envoy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// The call succeeded.
    Ok = 0,
    /// The thing asked for does not exist (or can no longer be changed).
    NotFound = 1,
    /// An argument is invalid (unknown cluster, bad map type, ...).
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// Nothing to return (empty queue).
    Empty = 7,
    /// Compare-and-swap lost against another writer.
    CasMismatch = 8,
    /// The host failed.
    InternalFailure = 10,
    /// The call is not allowed in the current callback.
    Unimplemented = 12,
}

/// Header maps addressed by `map_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapType {
    /// Request headers of the current stream.
    RequestHeaders,
    /// Request trailers of the current stream.
    RequestTrailers,
    /// Response headers of the current stream.
    ResponseHeaders,
    /// Response trailers of the current stream.
    ResponseTrailers,
    /// gRPC initial metadata of a callout response.
    GrpcInitialMetadata,
    /// gRPC trailing metadata of a callout response.
    GrpcTrailingMetadata,
    /// Headers of the HTTP callout response being delivered.
    CallResponseHeaders,
    /// Trailers of the HTTP callout response being delivered.
    CallResponseTrailers,
}

impl MapType {
    /// Decodes the ABI value; `None` for an unknown map type.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::RequestHeaders,
            1 => Self::RequestTrailers,
            2 => Self::ResponseHeaders,
            3 => Self::ResponseTrailers,
            4 => Self::GrpcInitialMetadata,
            5 => Self::GrpcTrailingMetadata,
            6 => Self::CallResponseHeaders,
            7 => Self::CallResponseTrailers,
            _ => return None,
        })
    }
}

/// Buffers addressed by `buffer_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferType {
    /// Buffered request body at the current filter.
    RequestBody,
    /// Buffered response body at the current filter.
    ResponseBody,
    /// Body of the HTTP callout response being delivered.
    CallResponseBody,
    /// Message of the gRPC callout response being delivered.
    GrpcReceive,
    /// `vm_config.configuration`.
    VmConfiguration,
    /// The plugin's `configuration`.
    PluginConfiguration,
}

impl BufferType {
    /// Decodes the ABI value; `None` for unknown or unsupported (network) buffers.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::RequestBody,
            1 => Self::ResponseBody,
            4 => Self::CallResponseBody,
            5 => Self::GrpcReceive,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            _ => return None,
        })
    }
}

/// Metric kinds of `proxy_define_metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Settable gauge.
    Gauge,
    /// Histogram of recorded values.
    Histogram,
}

impl MetricKind {
    /// Decodes the ABI value.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// Log levels of `proxy_log`, trace (0) to critical (5).
pub fn level_name(level: u32) -> &'static str {
    match level {
        0 => "trace",
        1 => "debug",
        2 => "info",
        3 => "warn",
        4 => "error",
        _ => "critical",
    }
}

/// Encodes header pairs the proxy-wasm way: count, (key len, value len) pairs, then each key
/// and value followed by a NUL byte. All integers are little-endian u32.
pub fn encode_pairs(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut size = 4 + pairs.len() * 8;
    for (k, v) in pairs {
        size += k.len() + v.len() + 2;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// Decodes header pairs written by a guest; `None` when the encoding is malformed.
pub fn decode_pairs(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let read_u32 = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(raw) as usize)
    };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = read_u32(0)?;
    let mut sizes = Vec::with_capacity(count.min(1024));
    let mut at = 4;
    for _ in 0..count {
        sizes.push((read_u32(at)?, read_u32(at + 4)?));
        at += 8;
    }
    let mut pairs = Vec::with_capacity(sizes.len());
    for (klen, vlen) in sizes {
        let key = bytes.get(at..at + klen)?;
        at += klen + 1;
        let value = bytes.get(at..at + vlen)?;
        at += vlen + 1;
        pairs.push((String::from_utf8_lossy(key).into_owned(), value.to_vec()));
    }
    Some(pairs)
}

/// Splits a property path (segments separated by NUL bytes) into its segments.
pub fn decode_path(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_including_empty_values() {
        let pairs = vec![(":path".to_string(), b"/a".to_vec()), ("x-empty".to_string(), Vec::new())];
        assert_eq!(decode_pairs(&encode_pairs(&pairs)), Some(pairs));
    }

    #[test]
    fn truncated_pairs_are_rejected_not_read_past_the_end() {
        let mut bytes = encode_pairs(&[("k".to_string(), b"value".to_vec())]);
        bytes.truncate(bytes.len() - 3);
        assert_eq!(decode_pairs(&bytes), None);
    }

    #[test]
    fn path_segments_split_on_nul() {
        assert_eq!(decode_path(b"request\0path"), vec!["request", "path"]);
    }
}
