//! `warden serve`: the approval service (`services/approvals`), with SQLite in `warden-data/`
//! by default.

use anyhow::{anyhow, Context};
use std::path::Path;
use warden_approvals::config::{load, ServiceConfig};

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
        Some(path) => load(path).map_err(|e| anyhow!("{}: {}: {}", path.display(), e.field, e.message))?,
        None => ServiceConfig::default(),
    };
    if options.database.is_some() {
        config.database = options.database;
    }
    if options.listen.is_some() {
        config.listen = options.listen;
    }
    let service = config.compile().map_err(|e| anyhow!("configuration: {}: {}", e.field, e.message))?;
    if options.check {
        println!(
            "configuration ok: listen {}, {} proxies, {} approver providers, database {}",
            service.listen,
            service.proxies.len(),
            service.approvers.as_ref().map_or(0, |a| a.identity().providers.len()),
            service.database.split('@').next_back().unwrap_or("")
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
        let server = warden_approvals::serve::bind(service).await?;
        println!(
            "warden approval service listening on http://{} (key id {})",
            server.addr,
            server.app().rules.signer.key_id()
        );
        server.run(shutdown()).await.context("serving")?;
        println!("warden approval service stopped");
        Ok(true)
    })
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
