//! The component's settings: the `wasi:config/store` keys it reads once per instance, compiled
//! into immutable values. Pure: tested natively.

use std::collections::BTreeMap;
use warden_kit::ConfigError;

/// Key of the JSON plugin configuration (the shape `warden.wasm` takes). Required.
pub const CONFIG_KEY: &str = "warden_config";
/// Suffix of a key holding a JSON setting base64-encoded (`warden_config_b64`).
pub const BASE64_SUFFIX: &str = "_b64";
/// Key of the base URL allowed requests are forwarded to. Required.
pub const UPSTREAM_KEY: &str = "warden_upstream";
/// Key of the callout clusters: a JSON object, cluster name to base URL. Default: none.
pub const CLUSTERS_KEY: &str = "warden_clusters";
/// Key of the node name evidence records carry. Default [`DEFAULT_NODE_ID`].
pub const NODE_ID_KEY: &str = "warden_node_id";
/// Key saying where metrics go: `stderr` (default) or `off`.
pub const METRICS_KEY: &str = "warden_metrics";
/// Key saying whether each exchange writes an `[access]` line (with the facts) to stderr:
/// `stderr` or `off` (default).
pub const ACCESS_LOG_KEY: &str = "warden_access_log";
/// Key of how long (ms) an exchange may go on after its response to ship what the stages
/// still hold (evidence batches) while the ledger fails. Default [`DEFAULT_DRAIN_MS`].
pub const DRAIN_KEY: &str = "warden_drain_ms";
/// The drain time when `warden_drain_ms` is not set.
pub const DEFAULT_DRAIN_MS: u64 = 3000;
/// The node name when `warden_node_id` is not set.
pub const DEFAULT_NODE_ID: &str = "warden-component";

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS (the host makes the connection).
    Https,
}

/// Where requests to a cluster (or the upstream) go: scheme, authority and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme of the URL.
    pub scheme: Scheme,
    /// `host[:port]` of the URL: the host connects there and sends it as `Host`.
    pub authority: String,
    /// Path of the URL without its trailing `/` (often empty), put before each request's path.
    pub path_prefix: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]` (or `https://`); `field` names the setting in errors.
    pub fn parse(field: &str, url: &str) -> Result<Endpoint, ConfigError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else {
            return Err(ConfigError::new(field, "expected an http:// or https:// URL"));
        };
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
            return Err(ConfigError::new(field, "expected a URL with a host (and no user, query or fragment)"));
        }
        if path.contains(['?', '#']) {
            return Err(ConfigError::new(field, "the URL may have a path prefix, not a query or fragment"));
        }
        let path_prefix = if path.is_empty() { String::new() } else { format!("/{}", path.trim_end_matches('/')) };
        Ok(Endpoint { scheme, authority: authority.to_string(), path_prefix })
    }

    /// The path to request for `path` (a request's path with query).
    pub fn path(&self, path: &str) -> String {
        if self.path_prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}{}", self.path_prefix, if path.starts_with('/') { path.to_string() } else { format!("/{path}") })
        }
    }
}

/// Everything the component reads from `wasi:config/store`, compiled once per instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The plugin configuration text (compiled by the module's compile function).
    pub config: String,
    /// Where allowed requests go.
    pub upstream: Endpoint,
    /// Callout clusters by name.
    pub clusters: BTreeMap<String, Endpoint>,
    /// The node name (`xds.node.id` to the stages).
    pub node_id: String,
    /// Whether metrics are written to stderr.
    pub metrics: bool,
    /// Whether each exchange writes an `[access]` line.
    pub access_log: bool,
    /// How long an exchange keeps trying to ship held records after its response.
    pub drain: std::time::Duration,
}

impl Settings {
    /// Reads the settings through `get` (a `wasi:config/store` lookup). Errors name the key.
    pub fn read(get: impl Fn(&str) -> Result<Option<String>, String>) -> Result<Settings, ConfigError> {
        let value =
            |key: &str| get(key).map_err(|e| ConfigError::new(key, format!("the host's config store failed: {e}")));
        let required =
            |key: &str| value(key)?.ok_or_else(|| ConfigError::new(key, "not set in the host's config store"));
        // A JSON value may also come base64-encoded under `<key>_b64` (hosts whose flags split
        // on commas, such as `wasmtime serve -Sconfig-var`, cannot carry JSON as it is).
        let json = |key: &str| -> Result<Option<String>, ConfigError> {
            let encoded_key = format!("{key}{BASE64_SUFFIX}");
            match (value(key)?, value(&encoded_key)?) {
                (Some(_), Some(_)) => {
                    Err(ConfigError::new(key, format!("set either {key} or {encoded_key}, not both")))
                }
                (Some(text), None) => Ok(Some(text)),
                (None, Some(encoded)) => {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|_| ConfigError::new(encoded_key.as_str(), "not valid base64"))?;
                    String::from_utf8(bytes)
                        .map(Some)
                        .map_err(|_| ConfigError::new(encoded_key.as_str(), "does not decode to UTF-8 text"))
                }
                (None, None) => Ok(None),
            }
        };
        let config = json(CONFIG_KEY)?.ok_or_else(|| {
            ConfigError::new(
                CONFIG_KEY,
                format!("not set in the host's config store (nor {CONFIG_KEY}{BASE64_SUFFIX})"),
            )
        })?;
        let upstream = Endpoint::parse(UPSTREAM_KEY, &required(UPSTREAM_KEY)?)?;
        let mut clusters = BTreeMap::new();
        if let Some(text) = json(CLUSTERS_KEY)? {
            let urls: BTreeMap<String, String> = warden_kit::config::parse(text.as_bytes()).map_err(|e| {
                ConfigError::new(CLUSTERS_KEY, format!("expected an object of cluster URLs: {}", e.message))
            })?;
            for (name, url) in urls {
                let endpoint = Endpoint::parse(&format!("{CLUSTERS_KEY}.{name}"), &url)?;
                clusters.insert(name, endpoint);
            }
        }
        let node_id = value(NODE_ID_KEY)?.unwrap_or_else(|| DEFAULT_NODE_ID.to_string());
        let metrics = match value(METRICS_KEY)?.as_deref() {
            None | Some("stderr") => true,
            Some("off") => false,
            Some(_) => return Err(ConfigError::new(METRICS_KEY, "expected `stderr` or `off`")),
        };
        let access_log = match value(ACCESS_LOG_KEY)?.as_deref() {
            None | Some("off") => false,
            Some("stderr") => true,
            Some(_) => return Err(ConfigError::new(ACCESS_LOG_KEY, "expected `stderr` or `off`")),
        };
        let drain_ms = match value(DRAIN_KEY)? {
            None => DEFAULT_DRAIN_MS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 60_000)
                .ok_or_else(|| ConfigError::new(DRAIN_KEY, "expected milliseconds from 0 to 60000"))?,
        };
        let drain = std::time::Duration::from_millis(drain_ms);
        Ok(Settings { config, upstream, clusters, node_id, metrics, access_log, drain })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::read(|key| Ok(map.get(key).cloned()))
    }

    #[test]
    fn a_minimal_configuration_forwards_to_the_upstream() {
        let settings = read(&[(CONFIG_KEY, r#"{"stages":[]}"#), (UPSTREAM_KEY, "http://127.0.0.1:8080")]).unwrap();
        assert_eq!(settings.upstream.authority, "127.0.0.1:8080");
        assert_eq!(settings.upstream.path("/a?b=1"), "/a?b=1");
        assert_eq!(settings.node_id, DEFAULT_NODE_ID);
        assert!(settings.metrics && settings.clusters.is_empty());
    }

    #[test]
    fn clusters_map_names_to_urls_with_prefixes() {
        let settings = read(&[
            (CONFIG_KEY, "{}"),
            (UPSTREAM_KEY, "https://api.example.com/v1/"),
            (CLUSTERS_KEY, r#"{"approvals": "http://127.0.0.1:9000/warden"}"#),
            (METRICS_KEY, "off"),
        ])
        .unwrap();
        assert_eq!(settings.upstream.scheme, Scheme::Https);
        assert_eq!(settings.upstream.path("/users"), "/v1/users");
        let approvals = &settings.clusters["approvals"];
        assert_eq!(
            (approvals.authority.as_str(), approvals.path("/v1/wait")),
            ("127.0.0.1:9000", "/warden/v1/wait".into())
        );
        assert!(!settings.metrics);
        assert!(!settings.access_log, "off by default");
        assert_eq!(settings.drain, std::time::Duration::from_millis(DEFAULT_DRAIN_MS));
    }

    #[test]
    fn json_settings_may_come_base64_encoded_for_flags_that_split_on_commas() {
        // {"stages":[{"name":"guard"}]} and {"a":"http://x:1","b":"http://y:2"}
        let settings = read(&[
            ("warden_config_b64", "eyJzdGFnZXMiOlt7Im5hbWUiOiJndWFyZCJ9XX0="),
            ("warden_clusters_b64", "eyJhIjoiaHR0cDovL3g6MSIsImIiOiJodHRwOi8veToyIn0="),
            (UPSTREAM_KEY, "http://127.0.0.1:9000"),
        ])
        .unwrap();
        assert_eq!(settings.config, r#"{"stages":[{"name":"guard"}]}"#);
        assert_eq!(settings.clusters["b"].authority, "y:2");
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(read(&[(UPSTREAM_KEY, "http://a")]).unwrap_err().field, CONFIG_KEY);
        assert_eq!(read(&[(CONFIG_KEY, "{}")]).unwrap_err().field, UPSTREAM_KEY);
        assert_eq!(read(&[(CONFIG_KEY, "{}"), (UPSTREAM_KEY, "ftp://a")]).unwrap_err().field, UPSTREAM_KEY);
        let bad_cluster = read(&[(CONFIG_KEY, "{}"), (UPSTREAM_KEY, "http://a"), (CLUSTERS_KEY, r#"{"ledger":"x"}"#)]);
        assert_eq!(bad_cluster.unwrap_err().field, "warden_clusters.ledger");
        let not_json = read(&[(CONFIG_KEY, "{}"), (UPSTREAM_KEY, "http://a"), (CLUSTERS_KEY, "[")]);
        assert_eq!(not_json.unwrap_err().field, CLUSTERS_KEY);
        let base = [(CONFIG_KEY, "{}"), (UPSTREAM_KEY, "http://a")];
        let with = |key, value| read(&[base[0], base[1], (key, value)]);
        assert_eq!(with(DRAIN_KEY, "90000").unwrap_err().field, DRAIN_KEY);
        assert_eq!(with(ACCESS_LOG_KEY, "file").unwrap_err().field, ACCESS_LOG_KEY);
        assert!(with(ACCESS_LOG_KEY, "stderr").unwrap().access_log);
        let both = read(&[(CONFIG_KEY, "{}"), ("warden_config_b64", "e30="), (UPSTREAM_KEY, "http://a")]);
        assert_eq!(both.unwrap_err().field, CONFIG_KEY);
        let garbled = read(&[("warden_config_b64", "!!"), (UPSTREAM_KEY, "http://a")]);
        assert_eq!(garbled.unwrap_err().field, "warden_config_b64");
        let store_down = Settings::read(|_| Err("unreachable".into())).unwrap_err();
        assert!(store_down.message.contains("config store failed"), "{}", store_down.message);
    }
}
