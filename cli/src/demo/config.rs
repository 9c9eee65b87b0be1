//! The demo's configuration files, written to the demo's data directory at start so people can
//! read (and copy) them: Envoy's bootstrap with `warden.wasm` and its five stages, the policy,
//! and `warden serve`'s configuration.

use super::Ports;
use serde_json::{json, Value};
use std::path::Path;

/// How long a held tool call waits for a person when people follow the walkthrough (the
/// route and stream timeouts are longer). The tour, which decides at once, holds 30 s.
pub const HOLD_TIMEOUT_MS: u64 = 180_000;

/// The policy stage's configuration: who may do what, down to the MCP tool and SQL statement.
/// A held call waits `hold_ms` for a person.
pub fn policy(hold_ms: u64) -> Value {
    let known = json!({"anonymous": false});
    json!({
        "default": "deny",
        "mcp_denial": "jsonrpc_error",
        "policies": [{"name": "demo", "rules": [
            {"id": "agents-no-destructive-sql",
             "match": {"methods": ["POST"], "paths": [{"exact": "/sql"}], "identity": {"acting_kinds": ["agent"]},
                       "sql": {"pointer": "/query", "destructive": true}},
             "effect": "deny", "message": "AI agents may not run destructive SQL"},
            {"id": "sql-for-known-callers",
             "match": {"methods": ["POST"], "paths": [{"exact": "/sql"}], "identity": known},
             "effect": "allow"},
            {"id": "destructive-tools-need-a-dba",
             "match": {"methods": ["POST"], "paths": [{"exact": "/mcp"}], "mcp": {"tools": ["delete_*", "drop_*"]}},
             "effect": "require_approval",
             "approval": {"approvers": {"groups": ["dba"]}, "mode": "hold", "hold_timeout_ms": hold_ms}},
            {"id": "tools-for-known-callers",
             "match": {"methods": ["POST"], "paths": [{"exact": "/mcp"}], "identity": known},
             "effect": "allow"},
            {"id": "prompts-masked",
             "match": {"methods": ["POST"], "paths": [{"exact": "/v1/chat/completions"}], "identity": known},
             "effect": "allow", "mask": {"profile": "prompt-pii", "request": true, "response": false}},
            {"id": "customer-reads-masked",
             "match": {"methods": ["GET"], "paths": [{"prefix": "/customers/"}], "identity": known},
             "effect": "allow", "mask": {"profile": "pii", "request": false, "response": true}}
        ]}]
    })
}

/// `warden.wasm`'s plugin configuration: identity → policy → approval → mask → audit.
pub fn plugin(issuer: &str, jwk: &Value, proxy_key: &str, receipt_public_key: &str, policy: Value) -> Value {
    let service = json!({"cluster": "warden", "authority": "warden", "key": proxy_key, "timeout_ms": 5000});
    json!({"stages": [
        {"name": "identity", "config": {"providers": [{
            "name": "demo-idp", "issuer": issuer, "audiences": ["warden"], "algorithms": ["ES256"],
            "jwks": {"keys": [jwk]}, "groups_claim": "groups"}]}},
        {"name": "policy", "config": policy},
        {"name": "approval", "config": {"service": service, "receipt_public_key": receipt_public_key, "poll_secs": 20}},
        {"name": "mask", "config": {"summary_header": "x-warden-masked", "profiles": {
            "prompt-pii": {"detectors": ["email", "phone", "payment_card", "iban", "us_ssn", "jwt", "bearer_token", "secret"]},
            "pii": {"detectors": ["email", "phone", "payment_card", "iban"]}}}},
        {"name": "audit", "config": {"ledger": {"cluster": "warden", "authority": "warden", "key": proxy_key, "flush_ms": 100}}}
    ]})
}

fn cluster(name: &str, port: u16) -> Value {
    endpoints(name, &[port])
}

fn endpoints(name: &str, ports: &[u16]) -> Value {
    let endpoints: Vec<Value> = ports
        .iter()
        .map(|port| json!({"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}))
        .collect();
    json!({"name": name, "type": "STATIC", "connect_timeout": "1s",
           "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": endpoints}]}})
}

/// The `warden serve` replicas as one cluster, each checked every second on `/healthz`: a
/// replica that stops answering takes no more callouts after a failed check. The check runs
/// every second even without traffic (Envoy's default then is a minute: a replica whose first
/// check timed out while Envoy compiled the module would stay out that long).
fn replicas_cluster(ports: &[u16]) -> Value {
    let mut cluster = endpoints("warden", ports);
    cluster["health_checks"] = json!([{"timeout": "2s", "interval": "1s", "no_traffic_interval": "1s",
                                       "unhealthy_interval": "1s", "unhealthy_threshold": 1,
                                       "healthy_threshold": 1, "http_health_check": {"path": "/healthz"}}]);
    cluster["common_lb_config"] = json!({"healthy_panic_threshold": {"value": 0}});
    cluster
}

/// Envoy's bootstrap: one listener with `warden.wasm`, a route per upstream, the approval
/// service and ledger (`replicas`: the ports of its replicas) as the `warden` cluster.
pub fn envoy(ports: &Ports, replicas: &[u16], wasm: &Path, plugin: &Value) -> anyhow::Result<Value> {
    let route = |prefix: &str, cluster: &str| {
        json!({"match": {"prefix": prefix},
               "route": {"cluster": cluster, "timeout": "240s", "idle_timeout": "240s"}})
    };
    let plugin_text = serde_json::to_string_pretty(plugin)?;
    Ok(json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ports.admin}}},
        "static_resources": {
            "listeners": [{"name": "warden",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": ports.envoy}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "warden", "normalize_path": true, "merge_slashes": true,
                    "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
                    // A held call waits up to HOLD_TIMEOUT_MS: the stream idle timeout must be longer.
                    "stream_idle_timeout": "240s",
                    "access_log": [{"name": "envoy.access_loggers.stdout", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                        "log_format": {"json_format": {
                            "method": "%REQ(:METHOD)%", "path": "%REQ(:PATH)%", "status": "%RESPONSE_CODE%",
                            "identity": "%FILTER_STATE(wasm.warden.identity:PLAIN)%",
                            "decision": "%FILTER_STATE(wasm.warden.decision:PLAIN)%",
                            "approval": "%FILTER_STATE(wasm.warden.approval:PLAIN)%"}}}}],
                    "route_config": {"virtual_hosts": [{"name": "demo", "domains": ["*"], "routes": [
                        route("/mcp", "mcp"), route("/sql", "sql"), route("/v1/", "llm"), route("/customers/", "customers")]}]},
                    "http_filters": [
                        {"name": "envoy.filters.http.wasm", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                            "config": {"name": "warden", "root_id": "warden", "failure_policy": "FAIL_CLOSED",
                                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": plugin_text},
                                "vm_config": {"vm_id": "warden", "runtime": "envoy.wasm.runtime.v8",
                                    "code": {"local": {"filename": wasm.display().to_string()}}}}}},
                        {"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}],
            "clusters": [cluster("mcp", ports.mcp), cluster("sql", ports.sql), cluster("llm", ports.llm),
                         cluster("customers", ports.customers), replicas_cluster(replicas)]
        }
    }))
}

/// `warden serve`'s configuration for the replica listening on `listen`: `database` (SQLite in
/// `data` when none is given), the proxy key's hash, the demo provider trusted for people's
/// tokens and web sign-in, the evidence ledger. Replicas share keys, database and
/// `public_url` (the first replica, where the sign-in comes back).
pub fn service(
    ports: &Ports,
    listen: u16,
    database: Option<&str>,
    data: &Path,
    issuer: &str,
    jwk: &Value,
    proxy_key_sha256: &str,
) -> Value {
    let file = |name: &str| data.join(name).display().to_string();
    json!({
        "listen": format!("127.0.0.1:{listen}"),
        "public_url": format!("http://127.0.0.1:{}", ports.service),
        "database": database.map_or_else(|| format!("sqlite://{}", file("warden.db")), str::to_string),
        "signing_key_file": file("approvals-signing.key"),
        "evidence": {"signing_key_file": file("evidence-signing.key"), "auditors_group": "auditors"},
        "proxies": [{"name": "demo-envoy", "key_sha256": proxy_key_sha256}],
        "approvers": {"providers": [{"name": "demo-idp", "issuer": issuer, "audiences": ["warden", "warden-approvals"],
                                     "algorithms": ["ES256"], "jwks": {"keys": [jwk]}, "groups_claim": "groups",
                                     // The demo provider issues people's tokens only (agents act
                                     // through `act`, which never decides).
                                     "default_kind": "human"}]},
        "web": {"oidc": {"issuer": issuer, "client_id": "warden-approvals",
                         "client_secret_file": file("oidc-client.secret")},
                "session_key_file": file("web-session.key")}
    })
}
