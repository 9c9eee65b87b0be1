//! Starting the service: storage, signing key, expiry timer, HTTP server.

use crate::config::{signing_key, Service};
use crate::http::{router, App};
use crate::store::{DecisionRules, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use warden_kit::ConfigError;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is wrong (names the field).
    #[error("configuration: {}", .0.brief())]
    Config(ConfigError),
    /// The database could not be reached or migrated.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// How often new approval events are turned into deliveries and due deliveries are sent.
pub const DELIVERY_PERIOD: Duration = Duration::from_secs(1);

/// How often approvals past their time are marked expired (with an event).
pub const EXPIRY_PERIOD: Duration = Duration::from_secs(5);

/// Opens storage and the signing key: everything a request needs.
pub async fn open(service: Service) -> Result<Arc<App>, StartError> {
    let signer = signing_key(&service.signing_key_file).map_err(StartError::Config)?;
    let store = Store::connect(&service.database).await?;
    let web = service.web.clone().map(crate::web::WebApp::open).transpose().map_err(StartError::Config)?;
    let channels = crate::channels::ChannelsApp::open(&service.channels).map_err(StartError::Config)?;
    let rules = DecisionRules { signer, break_glass_group: service.break_glass_group.clone() };
    Ok(Arc::new(App { service, store, rules, web, channels }))
}

/// A bound, ready server.
pub struct Server {
    /// The address it listens on (the port is known even when 0 was asked for).
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
    app: Arc<App>,
}

/// Opens everything and binds the listen address.
pub async fn bind(service: Service) -> Result<Server, StartError> {
    let listen = service.listen;
    let app = open(service).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| StartError::Listen(listen, e))?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen(listen, e))?;
    Ok(Server { addr, listener, app })
}

impl Server {
    /// The shared state (for tests and embedding).
    pub fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// Serves until `shutdown` completes; marks expired approvals every [`EXPIRY_PERIOD`].
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        self.run_with(axum::Router::new(), shutdown).await
    }

    /// [`Server::run`], also serving `extra`'s routes (another service mounted in the same
    /// process, e.g. the evidence ledger).
    pub async fn run_with(
        self,
        extra: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.app.store.clone();
        let expiry = tokio::spawn(async move {
            loop {
                tokio::time::sleep(EXPIRY_PERIOD).await;
                if let Err(e) = store.expire_due(crate::unix_now()).await {
                    eprintln!("warden approvals: marking expired approvals: {e}");
                }
            }
        });
        let app = self.app.clone();
        let deliveries = tokio::spawn(async move {
            loop {
                tokio::time::sleep(DELIVERY_PERIOD).await;
                if let Err(e) = crate::channels::run_once(&app, &app.channels, crate::unix_now()).await {
                    eprintln!("warden approvals: notifying channels: {e}");
                }
            }
        });
        let service = router(self.app).merge(extra).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        expiry.abort();
        deliveries.abort();
        result
    }
}
