//! `warden serve`: the approval service (`services/approvals`) and the evidence ledger
//! (`services/evidence`) in one process, on one address and one database, with SQLite in
//! `warden-data/` by default.

use anyhow::{anyhow, Context};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use warden_approval_service::config::{load, ServiceConfig};
use warden_evidence::config::{EvidenceConfig, Ledger};
use warden_service_shared::secrets::seed_file;

/// Options of `warden serve`.
pub struct ServeOptions<'a> {
    /// Configuration file (none: the defaults).
    pub config: Option<&'a Path>,
    /// Overrides `database`.
    pub database: Option<String>,
    /// Overrides `listen`.
    pub listen: Option<String>,
    /// Validate the configuration and stop.
    pub check: bool,
}

/// Validates the configuration, then (unless `check`) serves until SIGINT or SIGTERM.
pub fn run(options: ServeOptions<'_>) -> anyhow::Result<bool> {
    let mut config = match options.config {
        Some(path) => load(path).map_err(|e| anyhow!("{}: {}", path.display(), e.brief()))?,
        None => ServiceConfig::default(),
    };
    if options.database.is_some() {
        config.database = options.database;
    }
    if options.listen.is_some() {
        config.listen = options.listen;
    }
    let evidence: EvidenceConfig = match config.evidence.take() {
        Some(section) => warden_kit::config::parse(&serde_json::to_vec(&section)?)
            .map_err(|e| anyhow!("configuration: {}", e.within("evidence").brief()))?,
        None => EvidenceConfig::default(),
    };
    let ledger = evidence.compile().map_err(|e| anyhow!("configuration: {}", e.within("evidence").brief()))?;
    let service = config.compile().map_err(|e| anyhow!("configuration: {}", e.brief()))?;
    if options.check {
        println!(
            "configuration ok: listen {}, {} proxies, {} approver providers, database {}, evidence ledger {}",
            service.listen,
            service.proxies.len(),
            service.approvers.as_ref().map_or(0, |a| a.identity().providers.len()),
            service.database.split('@').next_back().unwrap_or(""),
            ledger.as_ref().map_or("off".to_string(), |l| l.origin.clone())
        );
        return Ok(true);
    }
    if service.proxies.is_empty() {
        eprintln!("warden serve: no `proxies` configured: no proxy can create approvals");
    }
    if service.approvers.is_none() {
        eprintln!("warden serve: no `approvers.providers` configured: nobody can decide approvals");
    }
    if let Some(path) = service.database.strip_prefix("sqlite://") {
        if let Some(dir) =
            Path::new(path.split('?').next().unwrap_or(path)).parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let server = warden_approval_service::startup::bind(service).await?;
        println!(
            "warden approval service listening on http://{} (key id {})",
            server.addr,
            server.app().rules.signer.key_id()
        );
        let (extra, background) = match ledger {
            Some(ledger) => {
                let (router, background) = start_ledger(&ledger, server.app()).await?;
                (router, Some(background))
            }
            None => (axum::Router::new(), None),
        };
        server.run_with(extra, shutdown()).await.context("serving")?;
        if let Some(background) = background {
            background.abort();
        }
        let _ = writeln!(std::io::stdout(), "warden approval service stopped");
        Ok(true)
    })
}

/// The evidence ledger on the approval service's database, trusting the same proxies and
/// people: its routes, and its background work (approval events in, checkpoints out).
async fn start_ledger(
    ledger: &Ledger,
    approvals: Arc<warden_approval_service::http::App>,
) -> anyhow::Result<(axum::Router, tokio::task::JoinHandle<()>)> {
    let seed = seed_file(&ledger.signing_key_file, "evidence.signing_key_file")
        .map_err(|e| anyhow!("configuration: {}", e.brief()))?;
    let backend = approvals.store.backend();
    let pool = approvals.store.pool().clone();
    let (store, signer) = warden_evidence::upkeep::open(ledger, pool, backend, seed).await.map_err(|e| anyhow!(e))?;
    // Whoever started us may have stopped reading stdout after the first line: never fail on it.
    let _ = writeln!(std::io::stdout(), "warden evidence ledger {} (key {})", signer.origin(), signer.vkey());
    let for_auth = approvals.clone();
    let authenticate: warden_evidence::http::Authenticate = Arc::new(move |header| {
        use warden_approval_service::auth::{authenticate, Caller};
        match authenticate(&for_auth.service, header, warden_approval_service::unix_now()).map_err(|e| e.0)? {
            Caller::Proxy { name } => Ok(warden_evidence::http::Caller::Proxy(name)),
            Caller::Person(person) => {
                Ok(warden_evidence::http::Caller::Person { subject: person.subject, groups: person.groups })
            }
        }
    });
    let app = Arc::new(warden_evidence::http::App {
        store: store.clone(),
        signer: signer.clone(),
        witness_keys: ledger.witnesses.iter().map(|w| w.key.clone()).collect(),
        auditors_group: ledger.auditors_group.clone(),
        authenticate,
    });
    let events: warden_evidence::upkeep::EventSource = Box::new(move |after| {
        let approvals = approvals.clone();
        Box::pin(async move { approval_events(&approvals.store, after).await })
    });
    let period = ledger.checkpoint_period;
    let mut witnesses = ledger
        .witnesses
        .iter()
        .map(|w| warden_evidence::upkeep::WitnessClient::new(w.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("configuration: evidence.witnesses: {e}"))?;
    let background = tokio::spawn(async move {
        loop {
            if let Err(e) = warden_evidence::upkeep::tick(&store, &signer, Some(&events), &mut witnesses).await {
                eprintln!("warden evidence: {e}");
            }
            tokio::time::sleep(period).await;
        }
    });
    Ok((warden_evidence::http::router(app), background))
}

/// Approval events after `after`, as canonical JSON log entries.
async fn approval_events(
    store: &warden_approval_service::store::Store,
    after: u64,
) -> Result<Vec<(u64, String)>, String> {
    let events = store.events(i64::try_from(after).unwrap_or(i64::MAX), 1000).await.map_err(|e| e.to_string())?;
    events
        .into_iter()
        .map(|e| {
            let seq = u64::try_from(e.seq).unwrap_or(0);
            let entry = warden_kit::ledger::LedgerEntry::ApprovalEvent(e.into());
            let bytes = warden_kit::canonical::to_vec(&entry).map_err(|e| e.to_string())?;
            let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            Ok((seq, text))
        })
        .collect()
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
