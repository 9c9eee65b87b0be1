//! Fetching approvers' key sets (`jwks_uri`) over HTTP(S): the network half of the identity
//! core's key rotation, which decides when to fetch and keeps the last good set.

use std::collections::BTreeMap;
use std::time::Duration;
use warden_identity::compile::Remote;

/// Largest key-set document accepted, bytes.
pub const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// `GET <clusters[remote.cluster]><remote.path>` with `remote.authority` as the Host header
/// and `remote.timeout_ms` as the deadline: the body of a 2xx answer, or why not (never the
/// body of an error, which may echo anything). Blocking: call it off the async runtime.
pub fn fetch(clusters: &BTreeMap<String, String>, remote: &Remote) -> Result<Vec<u8>, String> {
    let base = clusters.get(&remote.cluster).ok_or_else(|| format!("unknown cluster {}", remote.cluster))?;
    let url = format!("{base}{}", remote.path);
    let agent = warden_service_shared::http_client::agent(Some(Duration::from_millis(remote.timeout_ms)));
    let mut request = agent.get(&url).header("accept", "application/json");
    if !base.ends_with(&format!("//{}", remote.authority)) {
        request = request.header("host", &remote.authority);
    }
    let mut response = request.call().map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("status {status}"));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_vec()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))
}
