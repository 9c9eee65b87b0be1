#!/usr/bin/env python3
"""What a Warden module costs every Envoy that loads it: time from start until the first
request through the filter is answered, and Envoy's resident memory after that request, for
Envoy 1.40 (V8) with no filter, with `warden_identity.wasm`, and with `warden.wasm` with every
stage configured (guard, identity, policy with CEL, MCP and SQL rules, approval, mask, audit),
with one and two workers, and with a 1,000-rule policy. Direct-response route, one Envoy at a
time on free loopback ports. Each row is the median of ROUNDS starts (default 3).

    python3 ci/envoy-footprint.py            # the table
    WARDEN_WASM_DIR=dir python3 ...          # modules from another build
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-data"))
from envoy_bench import DATA, ENVOY, PROVIDER, WASM, bootstrap, free_port, median, stop, wasm_filter  # noqa: E402
from path_rules import thousand_rules  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
# Any valid Ed25519 public key: no approval is asked for by the request sent.
RECEIPT_KEY = base64.urlsafe_b64encode(bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")).decode().rstrip("=")


def policy(extra_rules):
    rules = [
        {"id": "readers", "match": {"methods": ["GET"], "paths": [{"prefix": "/"}]},
         "when": "identity.groups.exists(g, g == 'eng') && request.path.startsWith('/')", "effect": "allow"},
        {"id": "destructive-tools", "match": {"paths": [{"exact": "/mcp"}], "mcp": {"tools": ["delete_*", "drop_*"]}},
         "effect": "require_approval", "approval": {"approvers": {"groups": ["dba"]}, "mode": "hold", "hold_timeout_ms": 30000}},
        {"id": "no-ddl", "match": {"paths": [{"exact": "/sql"}], "sql": {"classes": ["ddl"]}}, "effect": "deny"},
    ]
    return {"default": "deny", "policies": [{"name": "bench", "rules": extra_rules + rules}]}


def suite(extra_rules):
    return {"stages": [
        {"name": "guard", "config": {"strip_request_headers": ["x-warden-*"]}},
        {"name": "identity", "config": {"providers": [PROVIDER]}},
        {"name": "policy", "config": policy(extra_rules)},
        {"name": "approval", "config": {"service": {"cluster": "approvals", "key": "bench-key", "timeout_ms": 1000},
                                        "receipt_public_key": RECEIPT_KEY}},
        {"name": "mask", "config": {"routes": [{"prefix": "/", "response": "all"}],
                                    "profiles": {"all": {}}}},
        {"name": "audit", "config": {}},
    ]}


SUITE = os.path.join(WASM, "warden.wasm")
VARIANTS = [
    ("no filter", 1, []),
    ("empty wasm filter (floor)", 1, [wasm_filter("probe", os.path.join(WASM, "warden_probe.wasm"), {})]),
    ("warden_identity.wasm", 1, [wasm_filter("warden_identity", os.path.join(WASM, "warden_identity.wasm"), {"providers": [PROVIDER]})]),
    ("warden.wasm, every stage", 1, [wasm_filter("warden", SUITE, suite([]))]),
    ("the same, --concurrency 2", 2, [wasm_filter("warden", SUITE, suite([]))]),
    ("the same + 1,000-rule policy", 1, [wasm_filter("warden", SUITE, suite(thousand_rules()))]),
]
# Only these variants (labels separated by ";") when ONLY is set.
if os.environ.get("ONLY"):
    VARIANTS = [v for v in VARIANTS if v[0] in os.environ["ONLY"].split(";")]


def rss_mib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(label, concurrency, filters, tmp):
    """Seconds from start until a request through the filter is answered 200, and RSS after it."""
    port, admin, approvals = free_port(), free_port(), free_port()
    path = os.path.join(tmp, "footprint.json")
    json.dump(bootstrap(port, admin, filters, {"approvals": approvals}), open(path, "w"))
    err = os.path.join(tmp, "envoy.err")
    url = "http://127.0.0.1:%d/docs/readme" % port
    request = urllib.request.Request(url, headers={"authorization": "Bearer " + DATA["token"]})
    started = time.monotonic()
    proc = subprocess.Popen([ENVOY, "-c", path, "--concurrency", str(concurrency), "--disable-hot-restart", "-l", "error"],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    try:
        deadline = started + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except urllib.error.HTTPError as e:
                sys.exit("%s: expected 200 for the bench token, got %d" % (label, e.code))
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("%s: Envoy did not answer:\n%s" % (label, open(err).read()[-2000:]))
            time.sleep(0.01)
        ready = time.monotonic() - started
        time.sleep(1.0)  # let start-up work finish
        return ready, rss_mib(proc.pid)
    finally:
        stop(proc)


def main():
    tmp = tempfile.mkdtemp(prefix="warden-footprint-")
    rounds = [{label: start(label, c, filters, tmp) for label, c, filters in VARIANTS} for _ in range(ROUNDS)]
    sizes = {"warden_identity.wasm": os.path.join(WASM, "warden_identity.wasm"),
             "empty wasm filter (floor)": os.path.join(WASM, "warden_probe.wasm")}
    none_rss = median([r["no filter"][1] for r in rounds]) if "no filter" in rounds[0] else float("nan")
    print("\n%-36s %10s %12s %10s %14s" % ("Envoy 1.40 (V8), %d starts each" % ROUNDS, "module MB", "ready (s)", "RSS MiB", "vs no filter"))
    for label, _, _ in VARIANTS:
        ready = median([r[label][0] for r in rounds])
        rss = median([r[label][1] for r in rounds])
        module = sizes.get(label, SUITE if label != "no filter" else None)
        size = "%.2f" % (os.path.getsize(module) / 1e6) if module else "-"
        print("%-36s %10s %12.2f %10.0f %+13.0f" % (label, size, ready, rss, rss - none_rss))
    print("(ready: start until the first request through the filter is answered; RSS after it)")


if __name__ == "__main__":
    main()
