//! Hostcalls that report failure instead of panicking.
//!
//! The proxy-wasm SDK's wrappers panic on any status they do not expect, and a panic kills
//! the VM (every later request then gets 503). Envoy 1.40 answers `BadArgument` for a header
//! map whose phase has passed, so the calls the chain makes go through these wrappers, which
//! return `Err(status)` instead. This is the only `unsafe` code in Warden: raw ABI calls and
//! taking ownership of buffers the host allocated with the SDK's allocator.
#![allow(unsafe_code)]

use proxy_wasm::types::{BufferType, MapType, MetricType};
use std::ptr::{null, null_mut};

/// A non-OK status from the host.
pub type Status = u32;

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_replace_header_map_value(map: u32, kd: *const u8, ks: usize, vd: *const u8, vs: usize) -> u32;
    fn proxy_remove_header_map_value(map: u32, kd: *const u8, ks: usize) -> u32;
    fn proxy_get_buffer_bytes(kind: u32, start: usize, max: usize, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_set_buffer_bytes(kind: u32, start: usize, size: usize, data: *const u8, len: usize) -> u32;
    fn proxy_get_property(pd: *const u8, ps: usize, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_set_property(pd: *const u8, ps: usize, vd: *const u8, vs: usize) -> u32;
    fn proxy_send_local_response(
        status: u32,
        dd: *const u8,
        ds: usize,
        bd: *const u8,
        bs: usize,
        hd: *const u8,
        hs: usize,
        grpc: i32,
    ) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_define_metric(kind: u32, nd: *const u8, ns: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
}

/// Takes ownership of a host-filled buffer (allocated through the SDK's exported allocator).
fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes at `data` with `proxy_on_memory_allocate`
    // (a boxed slice of exactly `size` bytes) and hands ownership to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

fn check(status: u32) -> Result<(), Status> {
    if status == OK {
        Ok(())
    } else {
        Err(status)
    }
}

/// Decodes the proxy-wasm header map encoding; malformed input gives what could be read.
fn decode_map(bytes: &[u8]) -> Vec<(String, String)> {
    let read = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(raw) as usize)
    };
    let Some(count) = read(0) else { return Vec::new() };
    let mut sizes = Vec::new();
    let mut at = 4;
    for _ in 0..count {
        let (Some(k), Some(v)) = (read(at), read(at + 4)) else { return Vec::new() };
        sizes.push((k, v));
        at += 8;
    }
    let mut pairs = Vec::with_capacity(sizes.len());
    for (k, v) in sizes {
        let (Some(key), Some(value)) = (bytes.get(at..at + k), bytes.get(at + k + 1..at + k + 1 + v)) else {
            break;
        };
        pairs.push((text(key), text(value)));
        at += k + v + 2;
    }
    pairs
}

/// Header bytes as text: valid UTF-8 (the usual case) is checked on the fast path, anything
/// else is converted lossily.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// All pairs of a header map.
pub fn get_map(map: MapType) -> Result<Vec<(String, String)>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid locals; the host writes a pointer and a size.
    let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    check(status)?;
    Ok(decode_map(&owned(data, size)))
}

/// Sets (`Some`) or removes (`None`) a header.
pub fn set_map_value(map: MapType, name: &str, value: Option<&str>) -> Result<(), Status> {
    // SAFETY: pointers and lengths come from live slices.
    let status = unsafe {
        match value {
            Some(v) => proxy_replace_header_map_value(map as u32, name.as_ptr(), name.len(), v.as_ptr(), v.len()),
            None => proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()),
        }
    };
    check(status)
}

/// Bytes of a buffer (body, callout response, configuration).
pub fn get_buffer(kind: BufferType, start: usize, max: usize) -> Result<Vec<u8>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid locals.
    let status = unsafe { proxy_get_buffer_bytes(kind as u32, start, max, &mut data, &mut size) };
    match status {
        OK => Ok(owned(data, size)),
        NOT_FOUND => Ok(Vec::new()),
        other => Err(other),
    }
}

/// Replaces `size` bytes from `start` of a buffer (0, len: the whole buffer).
pub fn set_buffer(kind: BufferType, start: usize, size: usize, value: &[u8]) -> Result<(), Status> {
    // SAFETY: pointer and length come from a live slice.
    check(unsafe { proxy_set_buffer_bytes(kind as u32, start, size, value.as_ptr(), value.len()) })
}

fn path_bytes(path: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in path {
        out.extend_from_slice(part.as_bytes());
        out.push(0);
    }
    out.pop();
    out
}

/// An attribute's bytes; `Ok(None)` when absent.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let serialized = path_bytes(path);
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointer and length come from a live vector; out-pointers are valid locals.
    let status = unsafe { proxy_get_property(serialized.as_ptr(), serialized.len(), &mut data, &mut size) };
    match status {
        OK => Ok(Some(owned(data, size))),
        NOT_FOUND => Ok(None),
        other => Err(other),
    }
}

/// Writes filter state (`wasm.<path>`).
pub fn set_property(path: &[&str], value: &[u8]) -> Result<(), Status> {
    let serialized = path_bytes(path);
    // SAFETY: pointers and lengths come from live buffers.
    check(unsafe { proxy_set_property(serialized.as_ptr(), serialized.len(), value.as_ptr(), value.len()) })
}

fn encode_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Sends a local reply.
pub fn send_local_response(status: u32, details: &str, body: &[u8], headers: &[(&str, &str)]) -> Result<(), Status> {
    let encoded = encode_map(headers);
    let body_ptr = if body.is_empty() { null() } else { body.as_ptr() };
    // SAFETY: pointers and lengths come from live buffers.
    check(unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body_ptr,
            body.len(),
            encoded.as_ptr(),
            encoded.len(),
            -1,
        )
    })
}

/// Resumes the request (`false`) or response (`true`) stream.
pub fn resume(response: bool) -> Result<(), Status> {
    // SAFETY: plain integer argument.
    check(unsafe { proxy_continue_stream(u32::from(response)) })
}

/// Defines a metric; returns its id.
pub fn define_metric(kind: MetricType, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: pointer and length come from a live string; out-pointer is a valid local.
    check(unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds `offset` to a counter or gauge.
pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain integer arguments.
    check(unsafe { proxy_increment_metric(id, offset) })
}

/// Sets a gauge or records a histogram sample.
pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain integer arguments.
    check(unsafe { proxy_record_metric(id, value) })
}
