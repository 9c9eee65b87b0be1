//! Reading and writing guest memory from hostcalls. Every access is bounds-checked: a bad
//! pointer from a guest is a `BadArgument` status, never a host crash.

use super::abi::Status;
use super::state::HostState;
use wasmtime::{AsContext, AsContextMut, Caller};

/// Result of a hostcall body: `Err` carries the status returned to the guest.
pub type CallResult = Result<(), Status>;

/// Converts a hostcall result to the i32 status the ABI returns.
pub fn status(result: CallResult) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(status) => status as i32,
    }
}

fn memory(caller: &Caller<'_, HostState>) -> Result<wasmtime::Memory, Status> {
    caller.data().memory.ok_or(Status::InternalFailure)
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub fn read(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, Status> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize).ok_or(Status::BadArgument)?;
    mem.data(caller.as_context()).get(start..end).map(<[u8]>::to_vec).ok_or(Status::BadArgument)
}

/// Reads a UTF-8 string (lossy) from guest memory.
pub fn read_str(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String, Status> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

/// Writes raw bytes into guest memory at `ptr`.
pub fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> CallResult {
    let mem = memory(caller)?;
    mem.write(caller.as_context_mut(), ptr as u32 as usize, bytes).map_err(|_| Status::BadArgument)
}

/// Writes a little-endian u32 at `ptr`.
pub fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> CallResult {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian u64 at `ptr`.
pub fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> CallResult {
    write(caller, ptr, &value.to_le_bytes())
}

/// Copies `bytes` into memory the guest allocates, then stores the pointer at `ptr_out` and
/// the length at `size_out` (as Envoy does: an empty value is a null pointer and size 0).
pub fn return_bytes(caller: &mut Caller<'_, HostState>, bytes: &[u8], ptr_out: i32, size_out: i32) -> CallResult {
    let mut ptr = 0i32;
    if !bytes.is_empty() {
        let alloc = caller.data().alloc.clone().ok_or(Status::InternalFailure)?;
        ptr = alloc.call(caller.as_context_mut(), bytes.len() as i32).map_err(|_| Status::InternalFailure)?;
        if ptr == 0 {
            return Err(Status::InternalFailure);
        }
        write(caller, ptr, bytes)?;
    }
    write_u32(caller, ptr_out, ptr as u32)?;
    write_u32(caller, size_out, bytes.len() as u32)
}
