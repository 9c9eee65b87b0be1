//! One proxy-wasm VM: a wasmtime instance of a filter module with its own `Store`.

use super::state::HostState;
use super::{imports, wasi};
use anyhow::{anyhow, bail, Context as _};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wasmtime::{Engine, Func, Instance, Linker, Module, Store, Val};

/// Compiles filter modules once and links them against the proxy-wasm host.
/// One per process; cheap to share across threads.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    modules: Mutex<HashMap<PathBuf, Module>>,
    provided: HashSet<(String, String)>,
}

impl Runtime {
    /// A runtime with every `env` and WASI hostcall registered. With `WARDEN_PERFMAP=1` in the
    /// environment, compiled guest code is listed in `/tmp/perf-<pid>.map` so `perf record`
    /// can name the filter functions where time is spent.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        if std::env::var_os("WARDEN_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        imports::add_to_linker(&mut linker)?;
        wasi::add_to_linker(&mut linker)?;
        let mut store = Store::new(&engine, HostState::placeholder());
        let provided = linker.iter(&mut store).map(|(m, n, _)| (m.to_string(), n.to_string())).collect();
        Ok(Runtime { engine, linker, modules: Mutex::new(HashMap::new()), provided })
    }

    /// Loads and compiles `path` (cached by path). Fails with a clear message when the file is
    /// missing, is not wasm, is not a proxy-wasm module, or imports something no host provides.
    pub fn load(&self, path: &Path) -> anyhow::Result<Module> {
        if let Some(module) = self.modules.lock().map_err(|_| anyhow!("module cache poisoned"))?.get(path) {
            return Ok(module.clone());
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read wasm module {}", path.display()))?;
        let module = Module::new(&self.engine, &bytes)
            .map_err(|e| anyhow!("{} is not a valid wasm module: {e:#}", path.display()))?;
        let abi = module.exports().any(|e| e.name().starts_with("proxy_abi_version_0_2"));
        if !abi {
            bail!("{} is not a proxy-wasm module: it exports no proxy_abi_version_0_2_x", path.display());
        }
        for import in module.imports() {
            if !self.provided.contains(&(import.module().to_string(), import.name().to_string())) {
                bail!(
                    "{} imports {}::{}, which neither this harness nor Envoy 1.40 provides",
                    path.display(),
                    import.module(),
                    import.name()
                );
            }
        }
        self.modules.lock().map_err(|_| anyhow!("module cache poisoned"))?.insert(path.to_path_buf(), module.clone());
        Ok(module)
    }

    /// Instantiates `module` with fresh per-VM `state` and runs `_initialize` if exported.
    pub fn instantiate(&self, module: &Module, state: HostState) -> anyhow::Result<Vm> {
        let mut store = Store::new(&self.engine, state);
        let instance = self.linker.instantiate(&mut store, module)?;
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| anyhow!("module exports no memory"))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .map_err(|_| anyhow!("module exports neither proxy_on_memory_allocate nor malloc"))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().alloc = Some(alloc);
        let mut vm = Vm { store, instance, funcs: HashMap::new() };
        if vm.func("_initialize").is_some() {
            vm.call("_initialize", &[]).map_err(|e| anyhow!("_initialize trapped: {}", e.detail))?;
        } else if vm.func("_start").is_some() {
            vm.call("_start", &[]).map_err(|e| anyhow!("_start trapped: {}", e.detail))?;
        }
        Ok(vm)
    }
}

/// A trap (guest panic, out-of-bounds access, `proc_exit`, ...): the VM is dead afterwards.
/// `reason` is worded like V8's (`unreachable`, `memory access out of bounds`, ...) so logs
/// read the same in the harness and in Envoy; `detail` has wasmtime's full report.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Trap {
    /// Short reason, e.g. `unreachable`.
    pub reason: String,
    /// Full report with the wasm backtrace.
    pub detail: String,
}

fn trap_reason(err: &wasmtime::Error) -> String {
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::UnreachableCodeReached) => "unreachable".into(),
        Some(wasmtime::Trap::MemoryOutOfBounds) => "memory access out of bounds".into(),
        Some(wasmtime::Trap::StackOverflow) => "Maximum call stack size exceeded".into(),
        Some(wasmtime::Trap::IntegerDivisionByZero) => "divide by zero".into(),
        Some(other) => other.to_string(),
        None => err.root_cause().to_string(),
    }
}

/// A live VM.
pub struct Vm {
    store: Store<HostState>,
    instance: Instance,
    funcs: HashMap<&'static str, Option<Export>>,
}

/// An export with its signature read once (reading it per call allocates).
#[derive(Clone, Copy)]
struct Export {
    func: Func,
    /// Parameter kinds, `true` for i64; at most [`MAX_PARAMS`].
    wide: [bool; MAX_PARAMS],
    params: usize,
    results: usize,
}

/// The most parameters a proxy-wasm callback takes.
const MAX_PARAMS: usize = 8;

impl Vm {
    fn func(&mut self, name: &'static str) -> Option<Func> {
        self.export(name).map(|e| e.func)
    }

    fn export(&mut self, name: &'static str) -> Option<Export> {
        if let Some(export) = self.funcs.get(name) {
            return *export;
        }
        let export = self.instance.get_func(&mut self.store, name).and_then(|func| {
            let ty = func.ty(&self.store);
            if ty.params().len() > MAX_PARAMS || ty.results().len() > 1 {
                return None;
            }
            let mut wide = [false; MAX_PARAMS];
            for (slot, param) in wide.iter_mut().zip(ty.params()) {
                *slot = matches!(param, wasmtime::ValType::I64);
            }
            let (params, results) = (ty.params().len(), ty.results().len());
            Some(Export { func, wide, params, results })
        });
        self.funcs.insert(name, export);
        export
    }

    /// Host state of this VM.
    pub fn state(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Calls export `name` with i32 arguments (missing ones are 0). A missing export, or one
    /// whose signature no proxy-wasm callback has, is a no-op returning `None` (Envoy treats
    /// absent callbacks the same way); a trap is `Err`.
    pub fn call(&mut self, name: &'static str, args: &[i32]) -> Result<Option<i32>, Trap> {
        let Some(export) = self.export(name) else { return Ok(None) };
        let mut params = [Val::I32(0); MAX_PARAMS];
        for (i, param) in params.iter_mut().enumerate().take(export.params) {
            let arg = args.get(i).copied().unwrap_or(0);
            *param = if export.wide[i] { Val::I64(i64::from(arg)) } else { Val::I32(arg) };
        }
        let mut results = [Val::I32(0); 1];
        export
            .func
            .call(&mut self.store, &params[..export.params], &mut results[..export.results])
            .map_err(|e| Trap { reason: trap_reason(&e), detail: format!("{e:?}") })?;
        if export.results == 0 {
            return Ok(None);
        }
        Ok(match results[0] {
            Val::I32(i) => Some(i),
            Val::I64(i) => Some(i as i32),
            _ => None,
        })
    }
}
