//! Real services behind a scenario's callout clusters (`clusters.<name>.service: approvals`):
//! the runner starts `warden serve` on loopback (SQLite in the scenario's scratch directory),
//! points the cluster at it, and plays the people who decide approvals while requests run.
//! Filter configurations may use `{{approvals.public_key}}` and `{{approvals.proxy_key}}`;
//! request headers may use `{{approval_id}}`.

use super::client::{self, ClientRequest};
use super::format::{PersonAct, RequestDef, Scenario, ServiceAction, ServiceKind};
use super::observed::LedgerView;
use anyhow::{anyhow, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use warden_kit::ledger::{EntryKind, LedgerEntry};

/// The test issuer of people's tokens.
pub const PEOPLE_ISSUER: &str = "https://people.scenario.test";
/// The break-glass group of the scenario service.
pub const BREAK_GLASS_GROUP: &str = "breakglass";

/// A running approval service for one scenario; stopped (by PID) when dropped. A request may
/// stop it (killed) and start it again (same port, same database) to show what the filters do
/// while it is gone.
pub struct ApprovalService {
    child: Mutex<Option<Child>>,
    config_path: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The proxy key the filters send.
    pub proxy_key: String,
    /// Its receipt-signing public key (base64url).
    pub public_key: String,
    people_key: SigningKey,
    last_id: Mutex<Option<String>>,
    warden: PathBuf,
    dir: PathBuf,
}

impl Drop for ApprovalService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The services a scenario's clusters need, by cluster name.
#[derive(Default)]
pub struct Services {
    /// The approval service and its cluster's name.
    pub approvals: Option<(String, Arc<ApprovalService>)>,
}

impl Services {
    /// Starts what `scenario` asks for, with scratch files under `dir`; `warden` is the binary
    /// that serves (`warden serve`).
    pub fn start(scenario: &Scenario, warden: Option<&Path>, dir: &Path) -> anyhow::Result<Services> {
        let mut services = Services::default();
        for (name, def) in &scenario.clusters {
            if def.service == Some(ServiceKind::Approvals) {
                let warden = warden
                    .ok_or_else(|| anyhow!("cluster `{name}` needs the approval service: run through `warden test`"))?;
                services.approvals = Some((name.clone(), Arc::new(ApprovalService::start(warden, &dir.join(name))?)));
            }
        }
        Ok(services)
    }

    /// Waits until the ledger holds at least `records` request records and stops growing (up
    /// to 15 s), calling `advance` between looks (the harness moves its clock so the filters'
    /// timers send their batches); then exports it as an auditor and verifies it with
    /// `warden audit verify` against the ledger's published key.
    pub fn read_ledger(&self, records: u64, advance: &mut dyn FnMut()) -> Option<LedgerView> {
        let (_, service) = self.approvals.as_ref()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = (u64::MAX, Instant::now());
        loop {
            advance();
            let size = service.ledger_size().unwrap_or(0);
            if size != last.0 {
                last = (size, Instant::now());
            }
            let settled = size >= records && last.1.elapsed() > Duration::from_millis(400);
            if settled || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(service.audit().unwrap_or_else(|e| LedgerView { report: format!("{e:#}"), ..LedgerView::default() }))
    }

    /// The loopback address of cluster `name`, when a service stands behind it.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.approvals.as_ref().filter(|(n, _)| n == name).map(|(_, s)| s.addr)
    }

    /// `scenario` with the services' placeholders filled in its filter configurations.
    pub fn fill(&self, scenario: &Scenario) -> Scenario {
        let mut filled = scenario.clone();
        if let Some((_, service)) = &self.approvals {
            for filter in &mut filled.filters {
                if let Some(config) = &mut filter.config {
                    replace_strings(config, &|s| {
                        s.replace("{{approvals.public_key}}", &service.public_key)
                            .replace("{{approvals.proxy_key}}", &service.proxy_key)
                    });
                }
            }
        }
        filled
    }

    /// Before sending `request`: its `people_before` act, then its headers are filled; its
    /// `people` start acting in the background. Failures go to `errors`.
    pub fn before(&self, request: &RequestDef, errors: &Arc<Mutex<Vec<String>>>) -> (RequestDef, Vec<JoinHandle<()>>) {
        let mut filled = request.clone();
        let Some((_, service)) = &self.approvals else { return (filled, Vec::new()) };
        match request.service {
            Some(ServiceAction::Stop) => service.stop(),
            Some(ServiceAction::Start) => {
                if let Err(e) = service.start_again() {
                    push(errors, format!("starting the service again: {e:#}"));
                }
            }
            None => {}
        }
        for act in &request.people_before {
            if let Err(e) = service.act(act, Duration::from_secs(10)) {
                push(errors, format!("{} {} (before the request): {e:#}", act.subject, act.decision));
            }
        }
        let id = service.last_id.lock().ok().and_then(|l| l.clone()).unwrap_or_default();
        for (_, value) in &mut filled.headers {
            *value = value.replace("{{approval_id}}", &id);
        }
        let mut handles = Vec::new();
        for act in request.people.clone() {
            let (service, errors) = (service.clone(), errors.clone());
            handles.push(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(act.after_ms));
                if let Err(e) = service.act(&act, Duration::from_secs(10)) {
                    push(&errors, format!("{} {}: {e:#}", act.subject, act.decision));
                }
            }));
        }
        (filled, handles)
    }

    /// After a request: waits for its people, and remembers an approval id the response named.
    pub fn after(&self, handles: Vec<JoinHandle<()>>, response_body: &str) {
        for handle in handles {
            let _ = handle.join();
        }
        if let Some((_, service)) = &self.approvals {
            let body: Value = serde_json::from_str(response_body).unwrap_or_default();
            let id = body["approval_id"].as_str().or(body["result"]["structuredContent"]["approval_id"].as_str());
            if let (Some(id), Ok(mut last)) = (id, service.last_id.lock()) {
                *last = Some(id.to_string());
            }
        }
    }
}

fn push(errors: &Arc<Mutex<Vec<String>>>, message: String) {
    if let Ok(mut all) = errors.lock() {
        all.push(message);
    }
}

fn replace_strings(value: &mut Value, f: &dyn Fn(&str) -> String) {
    match value {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, f)),
        _ => {}
    }
}

impl ApprovalService {
    /// Starts `warden serve` with a configuration for the scenario under `dir`.
    pub fn start(warden: &Path, dir: &Path) -> anyhow::Result<ApprovalService> {
        // A fresh database every run: what an earlier run left must not leak into this one.
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        let mut seed = [0u8; 32];
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        seed[..16].copy_from_slice(&nanos.to_le_bytes());
        seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        let people_key = SigningKey::from_bytes(&Sha256::digest(seed).into());
        let proxy_key = format!(
            "wpk_scenario_{}",
            warden_kit::hex::encode(&Sha256::digest(dir.display().to_string().as_bytes())[..8])
        );
        let x = URL_SAFE_NO_PAD.encode(people_key.verifying_key().as_bytes());
        let config = json!({
            "listen": "127.0.0.1:0",
            "database": format!("sqlite://{}", dir.join("approvals.db").display()),
            "signing_key_file": dir.join("signing.key"),
            "proxies": [{"name": "scenario", "key_sha256": warden_kit::hex::encode(&Sha256::digest(proxy_key.as_bytes()))}],
            "approvers": {"providers": [{
                "name": "people", "issuer": PEOPLE_ISSUER, "algorithms": ["EdDSA"],
                "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "people", "x": x}]},
                "kind_rules": [{"claim": "kind", "equals": "agent", "kind": "agent"}]
            }]},
            "break_glass_group": BREAK_GLASS_GROUP,
            "evidence": {"signing_key_file": dir.join("evidence.key"), "checkpoint_period_ms": 100},
        });
        let config_path = dir.join("approvals.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
        let (child, addr) = spawn(warden, &config_path, None, dir)?;
        let mut service = ApprovalService {
            child: Mutex::new(Some(child)),
            config_path,
            addr,
            proxy_key,
            public_key: String::new(),
            people_key,
            last_id: Mutex::new(None),
            warden: warden.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        let keys = service.call("GET", "/v1/keys", None, None)?.1;
        service.public_key = keys["keys"][0]["public_key"].as_str().unwrap_or_default().to_string();
        Ok(service)
    }

    /// Kills the service (as a crash would: no graceful shutdown).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same address and database, if it is stopped.
    pub fn start_again(&self) -> anyhow::Result<()> {
        let mut slot = self.child.lock().map_err(|_| anyhow!("service state poisoned"))?;
        if slot.is_none() {
            let (child, _) = spawn(&self.warden, &self.config_path, Some(self.addr), &self.dir)?;
            *slot = Some(child);
        }
        Ok(())
    }

    /// A person's token from the test issuer.
    fn token(&self, act: &PersonAct) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut claims = json!({"iss": PEOPLE_ISSUER, "sub": act.subject, "groups": act.groups, "exp": now + 600});
        if let Some(kind) = &act.kind {
            claims["kind"] = json!(kind);
        }
        let header = json!({"alg": "EdDSA", "kid": "people", "typ": "JWT"});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.people_key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let token = bearer.map_or_else(|| self.proxy_key.clone(), str::to_string);
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let headers = vec![
            ("authorization".to_string(), format!("Bearer {token}")),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let request = ClientRequest {
            method,
            path,
            authority: "approvals",
            headers: &headers,
            chunks: if body.is_empty() { Vec::new() } else { vec![&body[..]] },
            chunked: false,
            trailers: &[],
            timeout: Duration::from_secs(10),
            progress: None,
        };
        let response = client::send(self.addr, &request, None)?;
        Ok((response.status.unwrap_or(0), serde_json::from_slice(&response.body).unwrap_or(Value::Null)))
    }

    /// The ledger's size, from its newest checkpoint (`GET /v1/log/checkpoint`).
    fn ledger_size(&self) -> anyhow::Result<u64> {
        let request = ClientRequest {
            method: "GET",
            path: "/v1/log/checkpoint",
            authority: "approvals",
            headers: &[],
            chunks: Vec::new(),
            chunked: false,
            trailers: &[],
            timeout: Duration::from_secs(10),
            progress: None,
        };
        let response = client::send(self.addr, &request, None)?;
        let text = String::from_utf8_lossy(&response.body);
        text.lines().nth(1).and_then(|l| l.parse().ok()).ok_or_else(|| anyhow!("no checkpoint: {text}"))
    }

    /// Exports the ledger as an auditor and verifies the bundle with `warden audit`.
    fn audit(&self) -> anyhow::Result<LedgerView> {
        let auditor = PersonAct {
            subject: "auditor".into(),
            groups: vec!["auditors".into()],
            kind: None,
            decision: String::new(),
            reason: None,
            after_ms: 0,
            expect_status: 200,
        };
        let (_, key) = self.call("GET", "/v1/log/key", None, None)?;
        let log_key = key["log_key"].as_str().unwrap_or_default().to_string();
        let bundle_path = self.dir.join("bundle.json");
        let export = Command::new(&self.warden)
            .args(["audit", "export", "--url", &format!("http://{}", self.addr), "--sample", "4", "--out"])
            .arg(&bundle_path)
            .env("WARDEN_TOKEN", self.token(&auditor))
            .output()
            .context("running warden audit export")?;
        if !export.status.success() {
            return Err(anyhow!("warden audit export: {}", String::from_utf8_lossy(&export.stderr)));
        }
        let bundle = std::fs::read_to_string(&bundle_path)?;
        let parsed: Value = serde_json::from_str(&bundle)?;
        let kinds: Vec<EntryKind> = parsed["entries"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|x| x.as_str().and_then(|t| serde_json::from_str::<LedgerEntry>(t).ok()))
                    .map(|entry| entry.kind())
                    .collect()
            })
            .unwrap_or_default();
        let verify = Command::new(&self.warden)
            .args(["audit", "verify", "--log-key", &log_key])
            .arg(&bundle_path)
            .output()
            .context("running warden audit verify")?;
        Ok(LedgerView {
            records: kinds.iter().filter(|k| **k == EntryKind::Request).count() as u64,
            approval_events: kinds.iter().filter(|k| **k == EntryKind::ApprovalEvent).count() as u64,
            intents: kinds.iter().filter(|k| **k == EntryKind::Intent).count() as u64,
            bundle,
            verified: verify.status.success(),
            report: String::from_utf8_lossy(&verify.stdout).into_owned(),
        })
    }

    /// The newest pending approval, waiting up to `patience` for one.
    fn newest_pending(&self, patience: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + patience;
        loop {
            let (_, listed) = self.call("GET", "/v1/approvals", None, None)?;
            let newest = listed["approvals"]
                .as_array()
                .and_then(|all| {
                    all.iter().max_by_key(|a| (a["created_at"].as_u64(), a["id"].as_str().map(str::to_string)))
                })
                .and_then(|a| a["id"].as_str().map(str::to_string));
            if let Some(id) = newest {
                return Ok(id);
            }
            if Instant::now() > deadline {
                return Err(anyhow!("no pending approval appeared within {patience:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Plays `act` on the newest pending approval.
    fn act(&self, act: &PersonAct, patience: Duration) -> anyhow::Result<()> {
        let id = self.newest_pending(patience)?;
        if let Ok(mut last) = self.last_id.lock() {
            *last = Some(id.clone());
        }
        let (verb, body) = match act.decision.as_str() {
            "approve" => ("approve", json!({"reason": act.reason})),
            "deny" => ("deny", json!({"reason": act.reason})),
            "force_approve" => ("force", json!({"decision": "approve", "reason": act.reason})),
            "force_deny" => ("force", json!({"decision": "deny", "reason": act.reason})),
            other => return Err(anyhow!("unknown decision `{other}` (approve, deny, force_approve, force_deny)")),
        };
        let (status, answer) =
            self.call("POST", &format!("/v1/approvals/{id}/{verb}"), Some(&self.token(act)), Some(body))?;
        if status != act.expect_status {
            return Err(anyhow!("the service answered {status} (expected {}): {answer}", act.expect_status));
        }
        Ok(())
    }
}

/// Starts `warden serve` with `config` (on `listen` when given) and waits for its address.
fn spawn(warden: &Path, config: &Path, listen: Option<SocketAddr>, dir: &Path) -> anyhow::Result<(Child, SocketAddr)> {
    let mut command = Command::new(warden);
    command.args(["serve", "--config"]).arg(config);
    if let Some(listen) = listen {
        command.args(["--listen", &listen.to_string()]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(dir.join("serve.stderr"))?))
        .spawn()
        .with_context(|| format!("starting {} serve", warden.display()))?;
    let mut first = String::new();
    if let Some(stdout) = child.stdout.take() {
        BufReader::new(stdout).read_line(&mut first)?;
    }
    let addr = first.split_whitespace().find_map(|w| w.strip_prefix("http://")).and_then(|a| a.parse().ok());
    match addr {
        Some(addr) => Ok((child, addr)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default();
            Err(anyhow!("warden serve did not start: {first}{stderr}"))
        }
    }
}
