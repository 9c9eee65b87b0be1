//! Root context: configuration compiled once; HTTP contexts share the result.

use crate::http::WardenHttp;
use crate::proxy_host::{log, MetricIds};
use crate::{hostcalls, Compile};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel as SdkLevel};
use warden_kit::{Chain, LogLevel};

/// Registers the Warden root context for a filter named `plugin` (e.g. `warden_guard`), with
/// `compile` turning the plugin configuration into a chain. Call it from `proxy_wasm::main!`.
pub fn start(plugin: &'static str, compile: Compile) {
    // The SDK takes a plain `fn` for the root context; the filter's identity is set once
    // per VM here (single-threaded wasm, set before any context exists).
    let _ = FILTER.set((plugin, compile));
    proxy_wasm::set_log_level(SdkLevel::Trace);
    std::panic::set_hook(Box::new(move |info| {
        // The VM is about to die (a trap): say where, never what the request contained.
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        log(LogLevel::Error, &format!("{plugin}: panic at {location}; the VM fails per failure_policy"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        let (plugin, compile) = FILTER.get().copied().unwrap_or(("warden", reject_all));
        Box::new(WardenRoot { plugin, compile, chain: None, metrics: MetricIds::default() })
    });
}

static FILTER: std::sync::OnceLock<(&'static str, Compile)> = std::sync::OnceLock::new();

fn reject_all(_: &[u8]) -> Result<Chain, warden_kit::ConfigError> {
    Err(warden_kit::ConfigError::new("", "filter not registered"))
}

struct WardenRoot {
    plugin: &'static str,
    compile: Compile,
    chain: Option<Chain>,
    metrics: MetricIds,
}

impl Context for WardenRoot {}

impl RootContext for WardenRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        log(LogLevel::Info, &format!("{} {} starting", self.plugin, env!("CARGO_PKG_VERSION")));
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let raw = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX).unwrap_or_default();
        match (self.compile)(&raw) {
            Ok(chain) => {
                log(LogLevel::Info, &format!("{}: configured stages {:?}", self.plugin, chain.stage_names()));
                self.chain = Some(chain);
                true
            }
            Err(err) => {
                log(LogLevel::Error, &format!("{}: configuration rejected: {err}", self.plugin));
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let chain = self.chain.as_ref()?;
        Some(Box::new(WardenHttp::new(chain.start(), self.metrics.clone(), self.plugin)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
