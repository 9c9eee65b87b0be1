#!/usr/bin/env python3
"""Real-Envoy load benchmark: the same request through Envoy 1.40 with no filter, with Warden's
identity filter (standalone and in the suite), and with Envoy's native jwt_authn doing the
same check on the same ES256 token: once verifying only, once also producing what Warden
produces (subject and groups as upstream headers, the claims as request metadata). One Envoy
(--concurrency 1) per variant on free loopback ports; wrk -t1 -c10 for DURATION seconds after
a warm-up; the variants take turns for ROUNDS rounds and each row shows its median, so a slow
moment of the machine does not land on one variant only. Prints requests/s and ratios.
Compare rows of one run only."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-data"))
from envoy_bench import DATA, PROVIDER, WASM, bootstrap, load, median, wasm_filter  # noqa: E402

DURATION = os.environ.get("DURATION", "3")
ROUNDS = int(os.environ.get("ROUNDS", "5"))


def jwt_authn(**outputs):
    provider = {"issuer": DATA["issuer"], "audiences": [DATA["audience"]], "forward": True,
                "local_jwks": {"inline_string": json.dumps(DATA["jwks"])},
                "jwt_cache_config": {"jwt_cache_size": 100}, **outputs}
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"bench": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]}}


# What Warden's identity stage hands on: upstream identity headers and the identity as request
# state (Warden: filter state `warden.identity`; jwt_authn: dynamic metadata).
SAME_OUTPUTS = {"claim_to_headers": [{"header_name": "x-warden-subject", "claim_name": "sub"},
                                     {"header_name": "x-warden-groups", "claim_name": "groups"}],
                "payload_in_metadata": "jwt_payload"}

VARIANTS = [
    ("no filter", []),
    ("envoy jwt_authn verify only (cached)", [jwt_authn()]),
    ("envoy jwt_authn same outputs (cached)", [jwt_authn(**SAME_OUTPUTS)]),
    # The floor of any proxy-wasm filter in this Envoy: a module that only passes requests on.
    ("empty wasm filter (floor)", [wasm_filter("probe", os.path.join(WASM, "warden_probe.wasm"), {})]),
    ("warden_identity.wasm (cached)", [wasm_filter("warden_identity", os.path.join(WASM, "warden_identity.wasm"), {"providers": [PROVIDER]})]),
    ("warden.wasm guard+identity (cached)", [wasm_filter("warden", os.path.join(WASM, "warden.wasm"), {"stages": [
        {"name": "guard", "config": {"strip_request_headers": ["x-warden-*"]}},
        {"name": "identity", "config": {"providers": [PROVIDER]}}]})]),
    # The same with the audit stage writing each request's record to filter state.
    ("warden.wasm guard+identity+audit", [wasm_filter("warden", os.path.join(WASM, "warden.wasm"), {"stages": [
        {"name": "guard", "config": {"strip_request_headers": ["x-warden-*"]}},
        {"name": "identity", "config": {"providers": [PROVIDER]}},
        {"name": "audit", "config": {}}]})]),
    ("warden.wasm guard+identity+audit (status only)", [wasm_filter("warden", os.path.join(WASM, "warden.wasm"), {"stages": [
        {"name": "guard", "config": {"strip_request_headers": ["x-warden-*"]}},
        {"name": "identity", "config": {"providers": [PROVIDER]}},
        {"name": "audit", "config": {"outcome": "status"}}]})]),
]
# Only these variants (labels, comma-separated) when ONLY is set.
if os.environ.get("ONLY"):
    VARIANTS = [v for v in VARIANTS if v[0] in os.environ["ONLY"].split(",")]


def run(label, filters, tmp):
    result = load(label, lambda port, admin: bootstrap(port, admin, filters), tmp, DURATION,
                  headers=["authorization: Bearer " + DATA["token"]])
    return result["rps"], "%.2fms" % result["p50_ms"]


def main():
    tmp = tempfile.mkdtemp(prefix="warden-load-")
    rounds = []
    for _ in range(ROUNDS):
        rounds.append({label: run(label, filters, tmp) for label, filters in VARIANTS})
    # Ratios are taken within each round (neighbours in time share the machine's mood), then
    # the median over rounds is shown.
    def ratio(label, to):
        return median([r[label][0] / r[to][0] for r in rounds])

    none, verify, same = VARIANTS[0][0], VARIANTS[1][0], VARIANTS[2][0]
    print("\n%-40s %12s %10s %9s %14s %14s" % ("Envoy 1.40, wrk -t1 -c10 -d%ss, %d rounds" % (DURATION, ROUNDS),
                                              "requests/s", "p50", "vs none", "vs jwt verify", "vs jwt same out"))
    for label, _ in VARIANTS:
        rps, latency = median([r[label] for r in rounds])
        print("%-40s %12.0f %10s %8.2fx %13.2fx %13.2fx" % (label, rps, latency, ratio(label, none), ratio(label, verify), ratio(label, same)))
    print("(requests/s and latency: median over rounds; ratios: median of the per-round ratios)")


if __name__ == "__main__":
    main()
