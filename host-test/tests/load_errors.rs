//! Modules the harness must refuse at load, with a message that says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use std::sync::Arc;
use warden_host_test::host::vm::Runtime;

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-load-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn unknown_import_is_named() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "proxy_teleport" (func (param i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "proxy_abi_version_0_2_1"))
            (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0))"#,
    )
    .unwrap();
    let err = Arc::new(Runtime::new().unwrap()).load(&write("teleport.wasm", &wasm)).unwrap_err();
    assert!(format!("{err:#}").contains("env::proxy_teleport"), "{err:#}");
}

#[test]
fn module_without_proxy_abi_is_refused() {
    let wasm = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let err = Runtime::new().unwrap().load(&write("plain.wasm", &wasm)).unwrap_err();
    assert!(format!("{err:#}").contains("not a proxy-wasm module"), "{err:#}");
}

#[test]
fn missing_and_corrupt_files_are_refused() {
    let runtime = Runtime::new().unwrap();
    let err = runtime.load(std::path::Path::new("/nonexistent/filter.wasm")).unwrap_err();
    assert!(format!("{err:#}").contains("cannot read wasm module"), "{err:#}");
    let err = runtime.load(&write("corrupt.wasm", b"\0asm garbage")).unwrap_err();
    assert!(format!("{err:#}").contains("not a valid wasm module"), "{err:#}");
}
