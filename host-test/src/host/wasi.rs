//! The WASI preview1 subset Envoy gives proxy-wasm modules: stdout/stderr to the log,
//! clocks, randomness, environment (from `vm_config.environment_variables`), no files.

use super::memory::{read, write, write_u32, write_u64};
use super::state::HostState;
use wasmtime::{Caller, Linker};

const MODULE: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;

type C<'a> = Caller<'a, HostState>;

fn errno(result: Result<(), super::abi::Status>) -> i32 {
    if result.is_ok() {
        ERRNO_SUCCESS
    } else {
        ERRNO_FAULT
    }
}

/// Writes a WASI string table (`environ_get` / `args_get` layout).
fn write_table(c: &mut C<'_>, items: &[String], ptrs: i32, buf: i32) -> Result<(), super::abi::Status> {
    let mut at = buf;
    for (i, item) in items.iter().enumerate() {
        write_u32(c, ptrs + 4 * i as i32, at as u32)?;
        let mut bytes = item.as_bytes().to_vec();
        bytes.push(0);
        write(c, at, &bytes)?;
        at += bytes.len() as i32;
    }
    Ok(())
}

fn env_items(c: &C<'_>) -> Vec<String> {
    c.data().plugin.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Adds the WASI subset to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "fd_write", |mut c: C<'_>, fd: i32, iovs: i32, n: i32, written: i32| -> i32 {
        if fd != 1 && fd != 2 {
            return ERRNO_BADF;
        }
        let mut out = Vec::new();
        for i in 0..n.max(0) {
            let Ok(iov) = read(&c, iovs + 8 * i, 8) else { return ERRNO_FAULT };
            let ptr = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
            let len = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
            match read(&c, ptr, len) {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(_) => return ERRNO_FAULT,
            }
        }
        let text = String::from_utf8_lossy(&out);
        let level = if fd == 1 { "info" } else { "error" };
        for line in text.lines().filter(|l| !l.is_empty()) {
            c.data().log(level, line.to_string());
        }
        errno(write_u32(&mut c, written, out.len() as u32))
    })?;
    linker
        .func_wrap(MODULE, "fd_read", |_c: C<'_>, _fd: i32, _iovs: i32, _n: i32, _read: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "fd_close", |_c: C<'_>, _fd: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "fd_seek", |_c: C<'_>, _fd: i32, _off: i64, _wh: i32, _out: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "fd_fdstat_get", |_c: C<'_>, _fd: i32, _out: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "fd_prestat_get", |_c: C<'_>, _fd: i32, _out: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "fd_prestat_dir_name", |_c: C<'_>, _fd: i32, _p: i32, _l: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(MODULE, "clock_time_get", |mut c: C<'_>, _id: i32, _precision: i64, out: i32| -> i32 {
        let now = c.data().now_ns;
        errno(write_u64(&mut c, out, now))
    })?;
    linker.func_wrap(MODULE, "random_get", |mut c: C<'_>, ptr: i32, len: i32| -> i32 {
        let mut bytes = Vec::with_capacity(len.max(0) as usize);
        while bytes.len() < len.max(0) as usize {
            let next = c.data().world.borrow_mut().next_random();
            bytes.extend_from_slice(&next.to_le_bytes());
        }
        bytes.truncate(len.max(0) as usize);
        errno(write(&mut c, ptr, &bytes))
    })?;
    linker.func_wrap(MODULE, "environ_sizes_get", |mut c: C<'_>, count_out: i32, size_out: i32| -> i32 {
        let items = env_items(&c);
        let size: usize = items.iter().map(|s| s.len() + 1).sum();
        errno(write_u32(&mut c, count_out, items.len() as u32).and_then(|_| write_u32(&mut c, size_out, size as u32)))
    })?;
    linker.func_wrap(MODULE, "environ_get", |mut c: C<'_>, ptrs: i32, buf: i32| -> i32 {
        let items = env_items(&c);
        errno(write_table(&mut c, &items, ptrs, buf))
    })?;
    linker.func_wrap(MODULE, "args_sizes_get", |mut c: C<'_>, count_out: i32, size_out: i32| -> i32 {
        errno(write_u32(&mut c, count_out, 0).and_then(|_| write_u32(&mut c, size_out, 0)))
    })?;
    linker.func_wrap(MODULE, "args_get", |_c: C<'_>, _ptrs: i32, _buf: i32| -> i32 { ERRNO_SUCCESS })?;
    linker.func_wrap(MODULE, "sched_yield", |_c: C<'_>| -> i32 { ERRNO_SUCCESS })?;
    linker.func_wrap(MODULE, "poll_oneoff", |_c: C<'_>, _i: i32, _o: i32, _n: i32, _e: i32| -> i32 { ERRNO_INVAL })?;
    linker.func_wrap(MODULE, "proc_exit", |_c: C<'_>, code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg(format!("guest called proc_exit({code})")))
    })?;
    Ok(())
}
