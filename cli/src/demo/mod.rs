//! `warden demo`: the whole product on 127.0.0.1 in one command. It starts the demo upstreams
//! (an MCP tool server, a SQL endpoint, an OpenAI-compatible chat endpoint, a customer API) and
//! a demo identity provider in this process, `warden serve` (approvals and the evidence ledger,
//! SQLite in the data directory) and Envoy with `warden.wasm` (identity → policy → approval →
//! mask → audit) as child processes, then prints a walkthrough (`--tour`: runs it unattended and
//! checks every step). Ctrl-C, SIGTERM or the end of the tour stops every process it started.

mod browser;
mod config;
mod idp;
pub use idp::serve_alone as identity_provider;
mod keys;
mod tour;
mod upstreams;

use anyhow::{anyhow, bail, Context};
use keys::{random_bytes, random_secret, DemoKey};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use upstreams::Seen;

/// Options of `warden demo`.
pub struct DemoOptions {
    /// Run the walkthrough unattended, print each step's result, then stop (exit 1 if a step
    /// failed). Uses free ports.
    pub tour: bool,
    /// Where the configuration, database, keys and logs go (emptied at start).
    pub data_dir: PathBuf,
    /// Envoy binary (default: `find_envoy`).
    pub envoy: Option<PathBuf>,
    /// Directory holding `warden.wasm`.
    pub wasm_dir: PathBuf,
    /// Free ports instead of the fixed ones (always, with `tour`); `demo.json` in the data
    /// directory says which.
    pub free_ports: bool,
    /// Envoy worker threads (default 1).
    pub concurrency: u32,
    /// `warden serve`'s database (default: SQLite in the data directory).
    pub database: Option<String>,
    /// `warden serve` replicas behind Envoy (default 1; more need PostgreSQL).
    pub replicas: usize,
}

/// One demo person (or agent) and what they are for.
#[derive(Clone)]
pub struct Person {
    /// Subject.
    pub name: String,
    /// Groups claim.
    pub groups: Vec<String>,
    /// One line for the walkthrough.
    pub role: String,
}

/// Every port the demo uses (fixed for people, free ones for `--tour`).
#[derive(Clone, Copy)]
pub struct Ports {
    /// Envoy's listener, where clients go.
    pub envoy: u16,
    /// Envoy's admin.
    pub admin: u16,
    /// `warden serve`.
    pub service: u16,
    /// The demo identity provider.
    pub idp: u16,
    /// The MCP tool server.
    pub mcp: u16,
    /// The SQL endpoint.
    pub sql: u16,
    /// The chat endpoint.
    pub llm: u16,
    /// The customer API.
    pub customers: u16,
}

impl Ports {
    const FIXED: Ports = Ports {
        envoy: 10000,
        admin: 9901,
        service: 8731,
        idp: 8732,
        mcp: 10001,
        sql: 10002,
        llm: 10003,
        customers: 10004,
    };

    fn free() -> anyhow::Result<Ports> {
        // Held together so no two are the same; released just before the processes bind them.
        let held: Vec<TcpListener> = (0..8).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
        let p: Vec<u16> = held.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<Result<_, _>>()?;
        Ok(Ports {
            envoy: p[0],
            admin: p[1],
            service: p[2],
            idp: p[3],
            mcp: p[4],
            sql: p[5],
            llm: p[6],
            customers: p[7],
        })
    }
}

pub use warden_service_shared::unix_now;

/// The child processes, stopped (by PID, then waited for) when dropped.
#[derive(Default)]
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (name, child) in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("stopped {name} (pid {})", child.id());
        }
    }
}

impl Children {
    fn spawn(&mut self, name: &str, command: &mut Command, log: &Path) -> anyhow::Result<()> {
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child =
            command.stdin(Stdio::null()).stdout(out).stderr(err).spawn().with_context(|| format!("starting {name}"))?;
        self.0.push((name.to_string(), child));
        Ok(())
    }

    /// Fails if a child has exited, naming it and its log.
    fn check_running(&mut self, logs: &Path) -> anyhow::Result<()> {
        for (name, child) in &mut self.0 {
            if let Some(status) = child.try_wait()? {
                bail!("{name} exited ({status}); its log: {}", logs.join(format!("{name}.log")).display());
            }
        }
        Ok(())
    }
}

/// What the running demo offers the walkthrough and the tour.
pub struct Running {
    /// Ports in use.
    pub ports: Ports,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Tokens by demo identity name (`agent`, `alice`, `bob`, `erin`).
    pub tokens: Vec<(String, String)>,
    /// What each upstream received: mcp, sql, llm, customers.
    pub seen: [Seen; 4],
    /// The proxy key (for `warden policy publish`).
    pub proxy_key: String,
}

impl Running {
    /// The token of one demo identity.
    pub fn token(&self, who: &str) -> &str {
        self.tokens.iter().find(|(name, _)| name == who).map_or("", |(_, t)| t.as_str())
    }

    /// `http://127.0.0.1:<port>` of Envoy's listener.
    pub fn envoy_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.envoy)
    }

    /// `warden serve`'s URL.
    pub fn service_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.service)
    }
}

fn people() -> Vec<Person> {
    let person = |name: &str, groups: &[&str], role: &str| Person {
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        role: role.into(),
    };
    vec![
        person("alice", &["eng"], "an engineer; her coding agent acts for her"),
        person("bob", &["dba"], "a DBA: approves destructive actions"),
        person("erin", &["auditors"], "an auditor: exports and verifies the evidence"),
    ]
}

/// Starts everything, then shows the walkthrough (waiting for Ctrl-C) or runs the tour.
pub fn run(options: DemoOptions) -> anyhow::Result<bool> {
    let started = Instant::now();
    let envoy_bin = match options.envoy {
        Some(path) => path,
        None => warden_host_test::scenario::envoy::find_envoy()?,
    };
    let wasm = std::path::absolute(options.wasm_dir.join("warden.wasm"))?;
    if !wasm.exists() {
        bail!("{} not found: run ci/build-wasm first", wasm.display());
    }
    let data = std::path::absolute(&options.data_dir)?;
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    if options.replicas > 1 && !options.database.as_deref().unwrap_or("").starts_with("postgres") {
        bail!("several replicas share one database: give --database postgres://...");
    }
    let free = options.tour || options.free_ports;
    let ports = if free { Ports::free()? } else { Ports::FIXED };
    let mut replica_ports = vec![ports.service];
    for i in 1..options.replicas.max(1) {
        let port = if free {
            TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()
        } else {
            ports.service + 1 + u16::try_from(i)?
        };
        replica_ports.push(port);
    }
    let issuer = format!("http://127.0.0.1:{}", ports.idp);
    let key = Arc::new(DemoKey::generate()?);
    let jwk = key.jwk()?;
    let proxy_key = warden_kit::hex::encode(&random_bytes(24)?);
    let client_secret = random_secret(24)?;
    std::fs::write(data.join("oidc-client.secret"), &client_secret)?;

    // In-process: the upstreams and the identity provider, on listeners bound now so a port in
    // use is reported before anything else starts.
    let bind = |port: u16, what: &str| {
        TcpListener::bind(("127.0.0.1", port)).with_context(|| {
            format!("{what}: port {port} is in use (another `warden demo`? `warden demo --tour` uses free ports)")
        })
    };
    let seen: [Seen; 4] = Default::default();
    let servers = vec![
        (bind(ports.mcp, "the MCP tool server")?, upstreams::mcp(seen[0].clone())),
        (bind(ports.sql, "the SQL endpoint")?, upstreams::sql(seen[1].clone())),
        (bind(ports.llm, "the chat endpoint")?, upstreams::llm(seen[2].clone())),
        (bind(ports.customers, "the customer API")?, upstreams::customers(seen[3].clone())),
        (
            bind(ports.idp, "the demo identity provider")?,
            idp::router(idp::Provider {
                issuer: issuer.clone(),
                client_id: "warden-approvals".into(),
                client_secret,
                redirect_uri: format!("http://127.0.0.1:{}/ui/callback", ports.service),
                people: people(),
                key: key.clone(),
                announce: false,
            }),
        ),
    ];
    for port in [ports.envoy, ports.admin].iter().chain(&replica_ports) {
        drop(bind(*port, "Envoy or warden serve")?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    for (listener, router) in servers {
        listener.set_nonblocking(true)?;
        let listener = runtime.block_on(async { tokio::net::TcpListener::from_std(listener) })?;
        runtime.spawn(async move { axum::serve(listener, router).await });
    }

    let mut children = Children::default();
    let exe = std::env::current_exe().context("finding the warden binary")?;
    let proxy_hash = warden_approval_service::config::key_sha256(&proxy_key);
    let mut keys = Value::Null;
    for (i, port) in replica_ports.iter().enumerate() {
        let name = if i == 0 { "warden-serve".to_string() } else { format!("warden-serve-{i}") };
        let service_config = data.join(format!("{name}.yaml"));
        let database = options.database.as_deref();
        write_yaml(&service_config, &config::service(&ports, *port, database, &data, &issuer, &jwk, &proxy_hash))?;
        let log = data.join(format!("{name}.log"));
        children.spawn(&name, Command::new(&exe).arg("serve").arg("--config").arg(&service_config), &log)?;
        // One at a time: the first creates the keys and runs the migrations.
        let url = format!("http://127.0.0.1:{port}/v1/keys");
        keys = wait_for(Duration::from_secs(30), &mut children, &data, || {
            http_json("GET", &url, None, None).ok().filter(|(s, _)| *s == 200).map(|(_, v)| v)
        })
        .with_context(|| format!("{name} did not start"))?;
    }
    let receipt_key =
        keys["keys"][0]["public_key"].as_str().ok_or_else(|| anyhow!("warden serve has no receipt key"))?;

    let policy = config::policy(if options.tour { 30_000 } else { config::HOLD_TIMEOUT_MS });
    let policy_file = data.join("policy.json");
    std::fs::write(&policy_file, serde_json::to_string_pretty(&policy)?)?;
    let plugin = config::plugin(&issuer, &jwk, &proxy_key, receipt_key, policy);
    let envoy_config = data.join("envoy.yaml");
    write_yaml(&envoy_config, &config::envoy(&ports, &replica_ports, &wasm, &plugin)?)?;
    children.spawn(
        "envoy",
        Command::new(&envoy_bin)
            .arg("-c")
            .arg(&envoy_config)
            .args(["--concurrency", &options.concurrency.max(1).to_string()])
            .args(["--disable-hot-restart", "--log-level", "warn"]),
        &data.join("envoy.log"),
    )?;
    let now = unix_now();
    let token = |sub: &str, groups: &[String], act: Option<&str>| {
        let mut claims = json!({"iss": issuer, "aud": "warden", "sub": sub, "groups": groups,
                                "iat": now, "exp": now + 8 * 3600});
        if let Some(agent) = act {
            claims["act"] = json!({"sub": agent});
        }
        key.sign(&claims)
    };
    let mut tokens = vec![("agent".to_string(), token("alice", &["eng".to_string()], Some("agent:assistant")))];
    for person in people() {
        tokens.push((person.name.clone(), token(&person.name, &person.groups, None)));
    }
    let running = Running { ports, data_dir: data.clone(), tokens, seen, proxy_key };
    // Ready when a request passes through the whole chain (V8 compiles warden.wasm first).
    let probe = format!("{}/customers/1", running.envoy_url());
    wait_for(Duration::from_secs(90), &mut children, &data, || {
        http_json("GET", &probe, Some(running.token("alice")), None).ok().filter(|(s, _)| *s == 200)
    })
    .context("Envoy with warden.wasm did not start")?;
    // And when Envoy's health checks have found every replica (callouts go only to those).
    let health = format!("http://127.0.0.1:{}/stats?filter=cluster.warden.membership_healthy", ports.admin);
    wait_for(Duration::from_secs(30), &mut children, &data, || {
        let (_, text) = http_text("GET", &health, None, None).ok()?;
        let healthy: usize = text.split(':').nth(1)?.trim().parse().ok()?;
        (healthy == replica_ports.len()).then_some(())
    })
    .context("Envoy's health checks did not find every warden serve replica")?;
    // Published policies let `warden audit replay` re-check every decision.
    crate::policy::publish(&policy_file, &running.service_url(), &running.proxy_key)?;
    write_tokens(&running)?;
    write_state(&running, &replica_ports, &children)?;
    println!("Everything is up after {:.1} s.", started.elapsed().as_secs_f64());

    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
    let outcome = if options.tour {
        let worker = std::thread::spawn(move || {
            let passed = tour::run(&running, &exe);
            let _ = done_tx.send(passed);
        });
        let passed = runtime.block_on(async {
            tokio::select! {
                passed = done_rx => passed.unwrap_or(false),
                _ = stop_signal() => { eprintln!("interrupted"); false }
            }
        });
        if worker.is_finished() {
            let _ = worker.join();
        }
        passed
    } else {
        tour::walkthrough(&running, &exe);
        drop(done_tx);
        runtime.block_on(stop_signal());
        println!("\nstopping");
        true
    };
    drop(children);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome)
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn write_yaml(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_yaml_ng::to_string(value)?;
    std::fs::write(path, format!("# Written by `warden demo`; regenerated at every start.\n{text}"))
        .with_context(|| format!("writing {}", path.display()))
}

/// `tokens.env` in the data directory, for `source`.
fn write_tokens(running: &Running) -> anyhow::Result<()> {
    let mut text = String::from("# Demo tokens (signed by a key made when the demo started; valid 8 hours).\n");
    for (name, token) in &running.tokens {
        text.push_str(&format!("export {}_TOKEN={token}\n", name.to_uppercase()));
    }
    let path = running.data_dir.join("tokens.env");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// `demo.json` in the data directory: ports and processes, for scripts driving a running demo
/// (`ci/soak`).
fn write_state(running: &Running, replicas: &[u16], children: &Children) -> anyhow::Result<()> {
    let p = running.ports;
    let pids: serde_json::Map<String, Value> =
        children.0.iter().map(|(name, child)| (name.clone(), json!(child.id()))).collect();
    let state = json!({
        "ports": {"envoy": p.envoy, "admin": p.admin, "service": p.service, "idp": p.idp, "mcp": p.mcp,
                  "sql": p.sql, "llm": p.llm, "customers": p.customers},
        "replicas": replicas, "pids": pids,
    });
    let path = running.data_dir.join("demo.json");
    std::fs::write(&path, serde_json::to_string_pretty(&state)?).with_context(|| format!("writing {}", path.display()))
}

/// Polls `probe` every 100 ms until it returns something, a child exits or `limit` passes.
fn wait_for<T>(
    limit: Duration,
    children: &mut Children,
    logs: &Path,
    mut probe: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Ok(value);
        }
        children.check_running(logs)?;
        if Instant::now() > end {
            bail!("not ready after {} s (logs in {})", limit.as_secs(), logs.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP exchange: status and JSON body (`Null` when the body is not JSON), plus headers
/// are not needed by the callers. `bearer`: sent as `authorization: Bearer`.
pub fn http_json(method: &str, url: &str, bearer: Option<&str>, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
    let (status, text) = http_text(method, url, bearer, body)?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Like [`http_json`], the body as text.
pub fn http_text(method: &str, url: &str, bearer: Option<&str>, body: Option<&Value>) -> anyhow::Result<(u16, String)> {
    let agent = warden_service_shared::http_client::agent(Some(Duration::from_secs(240)));
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(url);
            if let Some(auth) = &auth {
                request = request.header("authorization", auth);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent.post(url).header("content-type", "application/json");
            if let Some(auth) = &auth {
                request = request.header("authorization", auth);
            }
            request.send(body.map(Value::to_string).unwrap_or_default())
        }
    }
    .with_context(|| format!("{method} {url}"))?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    Ok((status, text))
}
