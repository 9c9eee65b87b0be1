//! `warden-service-shared`: what the approval service, the evidence ledger and the `warden`
//! CLI share, so each is written once: the database backend, pool and migrations ([`db`]),
//! secret and key files ([`secrets`]), an HTTP client ([`http_client`]) and the clock
//! ([`unix_now`]).
#![forbid(unsafe_code)]

pub mod db;
pub mod http_client;
pub mod secrets;

/// Seconds since the Unix epoch (0 if the clock is before it). The only clock the services
/// read; their cores take time as an input.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
