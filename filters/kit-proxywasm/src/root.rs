//! Root context: configuration compiled once; HTTP contexts share the result.

use crate::http::WardenHttp;
use crate::proxy_host::ProxyHost;
use crate::proxy_host::{log, MetricIds};
use crate::{hostcalls, Compile};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::MapType;
use proxy_wasm::types::{BufferType, ContextType, LogLevel as SdkLevel};
use warden_kit::{Background, CalloutResponse, Chain, Host, LogLevel, MetricKind};

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
        Box::new(WardenRoot { plugin, compile, chain: None, background: None, metrics: MetricIds::default() })
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
    background: Option<Background>,
    metrics: MetricIds,
}

impl WardenRoot {
    fn host(&self) -> ProxyHost {
        ProxyHost { metrics: self.metrics.clone(), plugin: self.plugin }
    }
}

impl Context for WardenRoot {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let mut host = self.host();
        let Some(background) = self.background.as_mut() else { return };
        let mut headers = hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default();
        let status = headers.iter().find(|(k, _)| k == ":status").and_then(|(_, v)| v.parse().ok()).unwrap_or(503);
        headers.retain(|(k, _)| !k.starts_with(':'));
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size).unwrap_or_default();
        background.on_response(&mut host, token, CalloutResponse { status, headers, body, tag: String::new() });
    }
}

/// Gauge: the VM's linear memory in bytes (it only grows), set on every tick of a VM whose
/// stages tick (the audit stage with a ledger, fetched key sets): a leak shows as growth.
const MEMORY_GAUGE: &str = "warden_wasm_memory_bytes";

/// The size of this module's linear memory (0 when not built for wasm32).
fn linear_memory_bytes() -> i64 {
    #[cfg(target_arch = "wasm32")]
    let pages = core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    let pages = 0usize;
    i64::try_from(pages.saturating_mul(65536)).unwrap_or(i64::MAX)
}

impl RootContext for WardenRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        log(LogLevel::Info, &format!("{} {} starting", self.plugin, env!("CARGO_PKG_VERSION")));
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let raw = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX).unwrap_or_default();
        match (self.compile)(&raw) {
            Ok(chain) => {
                // Random bytes for this VM (WASI random_get): stages name per-VM things with them.
                let mut seed = [0u8; 16];
                if getrandom::fill(&mut seed).is_err() {
                    log(LogLevel::Warn, &format!("{}: no random bytes from the host", self.plugin));
                }
                let chain = chain.with_vm_seed(seed);
                log(LogLevel::Info, &format!("{}: configured stages {:?}", self.plugin, chain.stage_names()));
                let background = Background::new(chain.clone());
                if let Some(period) = background.tick_period() {
                    self.set_tick_period(period);
                }
                self.background = Some(background);
                self.chain = Some(chain);
                true
            }
            Err(err) => {
                log(LogLevel::Error, &format!("{}: configuration rejected: {err}", self.plugin));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let mut host = self.host();
        host.metric(MEMORY_GAUGE, MetricKind::Gauge, linear_memory_bytes());
        if let Some(background) = self.background.as_mut() {
            background.on_tick(&mut host);
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
