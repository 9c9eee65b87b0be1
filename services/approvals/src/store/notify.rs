//! Waking long-poll waiters when an approval changes: in process, and across replicas through
//! PostgreSQL `LISTEN`/`NOTIFY` (sent in the changing transaction, so delivered on commit).

use super::Backend;
use std::time::Duration;
use tokio::sync::broadcast;

/// The PostgreSQL channel decisions are announced on.
pub const CHANNEL: &str = "warden_approvals";

/// Announces changed approval ids to waiters.
#[derive(Clone)]
pub struct Waker {
    sender: broadcast::Sender<String>,
}

impl Default for Waker {
    fn default() -> Self {
        Waker::new()
    }
}

impl Waker {
    /// A waker with no listeners.
    pub fn new() -> Waker {
        Waker { sender: broadcast::channel(1024).0 }
    }

    /// Changed approval ids from now on. A slow receiver that misses some is told it lagged;
    /// waiters then re-read (they re-read periodically anyway).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.sender.subscribe()
    }

    /// Tells this replica's waiters.
    pub fn announce_local(&self, id: &str) {
        let _ = self.sender.send(id.to_string()); // no waiters: nothing to do
    }

    /// Tells other replicas, when the transaction commits (PostgreSQL only).
    pub async fn announce_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        backend: Backend,
        id: &str,
    ) -> Result<(), sqlx::Error> {
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(id).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Forwards other replicas' announcements to this replica's waiters, reconnecting when the
    /// connection drops (waiters re-read periodically, so a gap delays, never loses, a wake).
    pub async fn listen_postgres(&self, url: &str) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let sender = self.sender.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(note) => {
                        let _ = sender.send(note.payload().to_string());
                    }
                    Err(err) => {
                        eprintln!("warden approvals: notification listener: {err}; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }
}
