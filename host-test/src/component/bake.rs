//! Pre-initialised snapshots of a Warden component (`warden component bake`): the component's
//! `wizer-initialize` export runs once with the given settings (reading them through
//! `wasi:config` and compiling the chain), and wasmtime's wizer writes a component whose
//! instances start with that memory. A host then pays neither the settings parse nor the
//! chain compile per instance; the settings are fixed in the snapshot.

use super::{linker, State};
use anyhow::{anyhow, bail};
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, Instance, Lift, WasmList};
use wasmtime::Store;
use wasmtime_wizer::{ComponentInstanceState, Wizer};

/// The export a component must have to be baked.
const INIT: &str = "wizer-initialize";

/// Reads an instrumented instance's state for the snapshot. The trait cannot fail, so the first
/// failure is kept and reported after the snapshot.
struct Access<'a> {
    store: &'a mut Store<State>,
    instance: Instance,
    failed: Option<String>,
}

impl Access<'_> {
    async fn call<R: Lift + Send + Sync + 'static, T: Default>(
        &mut self,
        instance: &str,
        func: &str,
        use_ret: impl FnOnce(&mut Store<State>, R) -> T,
    ) -> T {
        let found = self
            .instance
            .get_export(&mut *self.store, None, instance)
            .and_then(|(_, i)| self.instance.get_export(&mut *self.store, Some(&i), func))
            .ok_or_else(|| format!("no export {instance}#{func}"))
            .and_then(|(_, f)| {
                self.instance.get_typed_func::<(), (R,)>(&mut *self.store, f).map_err(|e| format!("{e:#}"))
            });
        let result = match found {
            Ok(typed) => typed.call_async(&mut *self.store, ()).await.map_err(|e| format!("{e:#}")),
            Err(e) => Err(e),
        };
        match result {
            Ok((value,)) => use_ret(&mut *self.store, value),
            Err(e) => {
                self.failed.get_or_insert(e);
                T::default()
            }
        }
    }
}

impl ComponentInstanceState for Access<'_> {
    async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
        let mut contents = Some(contents);
        self.call(instance, func, |store, list: WasmList<u8>| {
            if let Some(contents) = contents.take() {
                contents(list.as_le_slice(&*store));
            }
        })
        .await
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, r| r).await
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, r| r).await
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, r: f32| r.to_bits()).await
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, r: f64| r.to_bits()).await
    }
}

/// Bakes `wasm` (a Warden component) with `settings` (the `wasi:config` keys it reads) into a
/// pre-initialised component. Fails with the component's own message when it rejects the
/// settings, or when it has no `wizer-initialize` export.
pub fn bake(wasm: &[u8], settings: Vec<(String, String)>) -> anyhow::Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    // Removing the export breaks the component's lifting of it (wizer 48 drops the core export
    // only); kept, it stays callable and would just compile the chain again.
    wizer.keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(wasm).map_err(|e| anyhow!("cannot instrument: {e:#}"))?;
    let engine = super::engine()?;
    let component = Component::new(&engine, &instrumented).map_err(|e| anyhow!("not a valid component: {e:#}"))?;
    let linker = linker(&engine)?;
    let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20);
    let routes = Arc::new(super::routes::Routes::default());
    let mut store = Store::new(&engine, State::new(&settings, Some(stderr.clone()), routes, None));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let baked = runtime.block_on(async {
        let instance = linker.instantiate_async(&mut store, &component).await.map_err(|e| anyhow!("{e:#}"))?;
        let init = instance
            .get_typed_func::<(), ()>(&mut store, INIT)
            .map_err(|_| anyhow!("the component has no `{INIT}` export: it cannot be baked"))?;
        if let Err(trap) = init.call_async(&mut store, ()).await {
            let said = String::from_utf8_lossy(&stderr.contents()).trim().to_string();
            bail!("the component refused the settings: {}", if said.is_empty() { format!("{trap:#}") } else { said });
        }
        let mut access = Access { store: &mut store, instance, failed: None };
        let snapshot = wizer.snapshot_component(&cx, &mut access).await.map_err(|e| anyhow!("{e:#}"))?;
        if let Ok(mut failed) = failure.lock() {
            *failed = access.failed.take();
        }
        Ok(snapshot)
    })?;
    if let Some(failed) = failure.lock().ok().and_then(|mut f| f.take()) {
        bail!("reading the initialised instance failed: {failed}");
    }
    Ok(baked)
}
