"""What the real-Envoy benchmarks (`ci/envoy-load.py`, `ci/envoy-footprint.py`) share: where
Envoy and the modules are, the bench token and its provider, free loopback ports, a wasm
filter's configuration, the bootstrap with a direct-response route, and stopping an Envoy
started with Popen."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

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


def bootstrap(port, admin, filters, clusters=(), body="ok", response_headers=()):
    """Envoy's configuration: one listener on `port` whose HTTP filters are `filters` then the
    router, a route answering 200 with `body` directly (plus `response_headers`, name -> value),
    the admin on `admin`, and `clusters` (name -> loopback port)."""
    router = {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    static = {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "bench",
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                dict({"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": body}}},
                     **({"response_headers_to_add": [{"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                                                     for k, v in dict(response_headers).items()]} if response_headers else {}))]}]},
            "http_filters": filters + [router]}}]}]}]}
    if clusters:
        static["clusters"] = [{"name": name, "type": "STATIC", "connect_timeout": "1s", "load_assignment": {
            "cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": cluster_port}}}}]}]}}
            for name, cluster_port in dict(clusters).items()]
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
            "static_resources": static}


# Envoy and wrk on separate cores (when there are two) so they do not take turns on one.
PIN_ENVOY, PIN_WRK = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if (os.cpu_count() or 1) >= 2 else ([], [])


def _millis(text):
    """wrk's latency text (`812.00us`, `1.20ms`, `2.01s`) in milliseconds."""
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load(label, config, tmp, duration, path="/", headers=(), expect_status="200"):
    """Starts one Envoy (--concurrency 1, pinned) with `config`, checks one request answers
    `expect_status`, warms up 1 s, then runs wrk -t1 -c10 for `duration` seconds. Returns
    {"rps", "p50_ms", "p99_ms"}; exits naming `label` if Envoy does not start."""
    port, admin = free_port(), free_port()
    config = config(port, admin)
    config_path = os.path.join(tmp, "bench.json")
    json.dump(config, open(config_path, "w"))
    err_path = os.path.join(tmp, "envoy.err")
    proc = subprocess.Popen(PIN_ENVOY + [ENVOY, "-c", config_path, "--concurrency", "1", "--disable-hot-restart", "-l", "error"],
                            stdout=subprocess.DEVNULL, stderr=open(err_path, "w"))
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    sys.exit("%s: Envoy did not start:\n%s" % (label, open(err_path).read()[-2000:]))
                time.sleep(0.05)
        url = "http://127.0.0.1:%d%s" % (port, path)
        header_args = [arg for h in headers for arg in ("-H", h)]
        check = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *header_args, url], capture_output=True, text=True)
        if check.stdout != expect_status:
            sys.exit("%s: expected %s, got %s" % (label, expect_status, check.stdout))
        subprocess.run(PIN_WRK + ["wrk", "-t1", "-c10", "-d1s", *header_args, url], capture_output=True)
        out = subprocess.run(PIN_WRK + ["wrk", "-t1", "-c10", "-d%ss" % duration, "--latency", *header_args, url],
                             capture_output=True, text=True).stdout
        return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "p50_ms": _millis(re.search(r"\s50%\s+(\S+)", out).group(1)),
                "p99_ms": _millis(re.search(r"\s99%\s+(\S+)", out).group(1))}
    finally:
        stop(proc)
