"""What the real-Envoy benchmarks (`ci/envoy-load.py`, `ci/envoy-footprint.py`) share: where
Envoy and the modules are, the bench token and its provider, free loopback ports, a wasm
filter's configuration, the bootstrap with a direct-response route, and stopping an Envoy
started with Popen."""
import json
import os
import signal
import socket
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENVOY = os.environ.get("WARDEN_ENVOY") or os.path.join(ROOT, ".venv", "bin", "envoy")
WASM = os.environ.get("WARDEN_WASM_DIR") or os.path.join(ROOT, "target", "wasm32-wasip1", "wasm")
DATA = json.load(open(os.path.join(ROOT, "ci", "bench-data", "es256-token.json")))
PROVIDER = {"name": "bench", "issuer": DATA["issuer"], "audiences": [DATA["audience"]], "algorithms": ["ES256"], "jwks": DATA["jwks"]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wasm_filter(name, path, config):
    """An `envoy.filters.http.wasm` filter running `path` with `config` (JSON), failing closed."""
    return {"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"name": name, "root_id": name, "failure_policy": "FAIL_CLOSED", "configuration": {
            "@type": "type.googleapis.com/google.protobuf.StringValue", "value": json.dumps(config)},
            "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": path}}}}}}


def stop(proc):
    """SIGTERM, then SIGKILL after 5 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def bootstrap(port, admin, filters, clusters=()):
    """Envoy's configuration: one listener on `port` whose HTTP filters are `filters` then the
    router, a route answering 200 `ok` directly, the admin on `admin`, and `clusters`
    (name -> loopback port)."""
    router = {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    static = {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "bench",
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
            "http_filters": filters + [router]}}]}]}]}
    if clusters:
        static["clusters"] = [{"name": name, "type": "STATIC", "connect_timeout": "1s", "load_assignment": {
            "cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": cluster_port}}}}]}]}}
            for name, cluster_port in dict(clusters).items()]
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
            "static_resources": static}
