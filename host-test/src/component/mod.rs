//! A `wasi:http` host for components (Warden's component packaging) on wasmtime's own
//! `wasi:http` implementation, the one `wasmtime serve` runs: one instance per request (as
//! `wasmtime serve` does), settings through `wasi:config/store`, stderr kept as the log, a
//! wall clock that scenarios move forward, and outgoing requests routed by [`Routes`].

pub mod bake;
pub mod routes;

use anyhow::anyhow;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use routes::{RouteHooks, Routes};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The wall clock components see: a start time, plus time scenarios skip, plus real time.
#[derive(Clone)]
pub struct Clock {
    start: Duration,
    skipped_ms: Arc<AtomicU64>,
    real: Instant,
}

impl Clock {
    /// A clock reading `start` (since the Unix epoch) now.
    pub fn starting_at(start: Duration) -> Clock {
        Clock { start, skipped_ms: Arc::default(), real: Instant::now() }
    }

    /// Moves the clock forward by `ms`.
    pub fn skip(&self, ms: u64) {
        self.skipped_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        self.start + Duration::from_millis(self.skipped_ms.load(Ordering::SeqCst)) + self.real.elapsed()
    }
}

/// One store's state: WASI, `wasi:http`, `wasi:config`.
struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    config: WasiConfigVariables,
    hooks: RouteHooks,
}

impl State {
    fn new(
        settings: &[(String, String)],
        stderr: Option<MemoryOutputPipe>,
        routes: Arc<Routes>,
        clock: Option<Clock>,
    ) -> State {
        let mut wasi = WasiCtx::builder();
        match stderr {
            Some(pipe) => wasi.stderr(pipe),
            None => wasi.inherit_stderr(),
        };
        if let Some(clock) = clock {
            wasi.wall_clock(clock);
        }
        State {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            config: settings.iter().cloned().collect(),
            hooks: RouteHooks(routes),
        }
    }
}

/// A linker with what a `wasi:http` host gives: WASI, `wasi:http`, `wasi:config`.
fn linker(engine: &Engine) -> anyhow::Result<Linker<State>> {
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_config::add_to_linker(&mut linker, |state: &mut State| WasiConfig::from(&state.config))?;
    Ok(linker)
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// A request to serve.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Authority.
    pub authority: String,
    /// Headers (lowercase names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// How long the client waits for the whole response.
    pub timeout: Duration,
}

/// How a request ended, as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Status, when a response head arrived.
    pub status: Option<u16>,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body (what arrived).
    pub body: Vec<u8>,
    /// Whether the body arrived whole.
    pub complete: bool,
    /// Whether the client gave up waiting.
    pub timed_out: bool,
}

/// An instance kept between requests (when the server reuses instances).
type Kept = (Store<State>, Proxy);

/// A component served the way `wasmtime serve` serves it: a new instance per request, or
/// (with [`ComponentServer::reusing_instances`]) one instance for every request, as hosts that
/// pool instances do.
pub struct ComponentServer {
    pre: ProxyPre<State>,
    kept: std::sync::Mutex<Option<Kept>>,
    reuse: bool,
    /// Whether the component's stderr goes to this process's stderr (else it is kept).
    print_logs: bool,
    settings: Vec<(String, String)>,
    routes: Arc<Routes>,
    clock: Clock,
    stderr: MemoryOutputPipe,
    runtime: tokio::runtime::Runtime,
}

/// The process's engine for components (shared, so compiled components are too).
pub fn engine() -> anyhow::Result<Engine> {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    // As `wasmtime serve`: instances come from a pool (and memories start copy-on-write from
    // the component's image), so an instance per request is cheap to make.
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
        wasmtime::PoolingAllocationConfig::default(),
    ));
    let engine = Engine::new(&config)?;
    Ok(ENGINE.get_or_init(|| engine).clone())
}

/// The component at `path`, compiled once per process and engine (compiling a 7 MB component
/// takes seconds; scenarios share it).
fn compiled(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    static CACHE: std::sync::Mutex<Vec<(std::path::PathBuf, Engine, Component)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().map_err(|_| anyhow!("component cache poisoned"))?;
    if let Some((_, _, component)) = cache.iter().find(|(p, e, _)| p == path && Engine::same(e, engine)) {
        return Ok(component.clone());
    }
    let component = Component::from_file(engine, path)
        .map_err(|e| anyhow!("{}: not a WebAssembly component: {e:#}", path.display()))?;
    cache.push((path.to_path_buf(), engine.clone(), component.clone()));
    Ok(component)
}

impl ComponentServer {
    /// Compiles the component at `wasm` and links it with WASI, `wasi:http` and `wasi:config`
    /// holding `settings`. Fails when the file is not a component or imports something else.
    pub fn new(
        engine: &Engine,
        wasm: &Path,
        settings: Vec<(String, String)>,
        routes: Arc<Routes>,
        clock: Clock,
    ) -> anyhow::Result<ComponentServer> {
        let component = compiled(engine, wasm)?;
        let linker = linker(engine)?;
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow!("{}: the component imports something a wasi:http host does not give: {e:#}", wasm.display())
        })?;
        let pre = ProxyPre::new(pre)
            .map_err(|e| anyhow!("{}: does not export wasi:http/incoming-handler: {e:#}", wasm.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let stderr = MemoryOutputPipe::new(64 << 20);
        let kept = std::sync::Mutex::new(None);
        Ok(ComponentServer { pre, kept, reuse: false, print_logs: false, settings, routes, clock, stderr, runtime })
    }

    /// The same server keeping one instance for every request.
    pub fn reusing_instances(mut self) -> ComponentServer {
        self.reuse = true;
        self
    }

    /// The same server writing the component's stderr (its log) to this process's stderr.
    pub fn printing_logs(mut self) -> ComponentServer {
        self.print_logs = true;
        self
    }

    /// The clock the component sees.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every request the component sent.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// The routes, shared.
    pub fn routes_handle(&self) -> Arc<Routes> {
        self.routes.clone()
    }

    /// What the component wrote to stderr, line by line.
    pub fn stderr_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.stderr.contents()).lines().map(str::to_string).collect()
    }

    fn store(&self) -> Store<State> {
        let stderr = (!self.print_logs).then(|| self.stderr.clone());
        let state = State::new(&self.settings, stderr, self.routes.clone(), Some(self.clock.clone()));
        Store::new(self.pre.engine(), state)
    }

    /// Serves one request (in a new instance unless instances are reused) and waits until the
    /// instance is done (it may go on after the response, shipping evidence).
    pub fn handle(&self, request: &Request) -> anyhow::Result<Answer> {
        let kept = if self.reuse { self.kept.lock().ok().and_then(|mut k| k.take()) } else { None };
        let (store, proxy) = match kept {
            Some((store, proxy)) => (store, Some(proxy)),
            None => (self.store(), None),
        };
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(format!("http://{}{}", request.authority, request.path));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = Full::new(Bytes::from(request.body.clone()))
            .map_err(|never: std::convert::Infallible| -> wasmtime_wasi_http::Error { match never {} });
        let incoming = builder.body(body)?;
        let pre = self.pre.clone();
        let timeout = request.timeout;
        let (answer, kept) = self.runtime.block_on(async move {
            let mut store = store;
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, incoming)?;
            let out = store.data_mut().http().new_response_outparam(sender)?;
            let task = tokio::spawn(async move {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => pre.instantiate_async(&mut store).await?,
                };
                proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, out).await?;
                Ok::<Kept, wasmtime::Error>((store, proxy))
            });
            let client = async {
                let mut answer = Answer::default();
                let Ok(Ok(response)) = receiver.await else { return answer };
                answer.status = Some(response.status().as_u16());
                answer.headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                let mut body = response.into_body();
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(frame) => {
                            if let Ok(data) = frame.into_data() {
                                answer.body.extend_from_slice(&data);
                            }
                        }
                        Err(_) => return answer,
                    }
                }
                answer.complete = true;
                answer
            };
            let answer = match tokio::time::timeout(timeout, client).await {
                Ok(answer) => answer,
                Err(_) => Answer { timed_out: true, ..Answer::default() },
            };
            let kept = match tokio::time::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(Ok(kept))) => kept,
                Ok(Ok(Err(trap))) => return Err(anyhow::Error::from(trap).context("the component trapped")),
                Ok(Err(join)) => return Err(anyhow::anyhow!("the component's task failed: {join}")),
                Err(_) => return Err(anyhow::anyhow!("the component did not finish within 30 s of the response")),
            };
            Ok::<(Answer, Kept), anyhow::Error>((answer, kept))
        })?;
        if self.reuse {
            if let Ok(mut slot) = self.kept.lock() {
                *slot = Some(kept);
            }
        }
        Ok(answer)
    }
}
