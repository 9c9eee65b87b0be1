#!/usr/bin/env python3
"""Full-chain speed in a real Envoy 1.40: the same authenticated request decided by 1,000
path/group policies, through Envoy's native jwt_authn + rbac and through warden.wasm (identity
with a cached token + policy), then with the audit stage, then also masking a 2 KiB JSON
response; next to no filter and the empty wasm filter (the floor of any proxy-wasm filter).
One Envoy (--concurrency 1, pinned to one core, wrk on the other) per variant, direct-response
route; the variants take turns for ROUNDS rounds; each row is the median over rounds and each
ratio the median of per-round ratios. Requests/s, p50 and p99 latency (wrk -c10). Compare rows
of one run only."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-data"))
from envoy_bench import DATA, PROVIDER, WASM, bootstrap, load, median, wasm_filter  # noqa: E402

DURATION = os.environ.get("DURATION", "3")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
RULES = 1000
PATH = "/svc501/items"  # allowed by exactly one policy: path prefix /svc501/, group eng


def group(i):
    """The group policy i allows: the bench token is in `eng`."""
    return "eng" if i % 10 == 1 else "team%d" % (i % 10)


# Warden: default deny, one allow rule per path prefix and group.
POLICY = {"default": "deny", "policies": [{"name": "bench", "rules": [
    {"id": "r%d" % i, "match": {"paths": [{"prefix": "/svc%d/" % i}], "identity": {"groups": [group(i)]}}, "effect": "allow"}
    for i in range(RULES)]}]}
MASKED_POLICY = json.loads(json.dumps(POLICY))
for rule in MASKED_POLICY["policies"][0]["rules"]:
    rule["mask"] = {"profile": "pii", "request": False, "response": True}

# Envoy: jwt_authn puts the verified claims in metadata; rbac allows one path prefix per
# policy for callers whose `groups` claim holds that policy's group (the same decision).
JWT_AUTHN = {"name": "envoy.filters.http.jwt_authn", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
    "providers": {"bench": {"issuer": DATA["issuer"], "audiences": [DATA["audience"]], "forward": True,
                            "local_jwks": {"inline_string": json.dumps(DATA["jwks"])},
                            "jwt_cache_config": {"jwt_cache_size": 100},
                            "claim_to_headers": [{"header_name": "x-warden-subject", "claim_name": "sub"},
                                                 {"header_name": "x-warden-groups", "claim_name": "groups"}],
                            "payload_in_metadata": "jwt_payload"}},
    "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]}}
RBAC = {"name": "envoy.filters.http.rbac", "typed_config": {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    "rules": {"action": "ALLOW", "policies": {
        "p%d" % i: {"permissions": [{"url_path": {"path": {"prefix": "/svc%d/" % i}}}],
                    "principals": [{"metadata": {"filter": "envoy.filters.http.jwt_authn",
                                                 "path": [{"key": "jwt_payload"}, {"key": "groups"}],
                                                 "value": {"list_match": {"one_of": {"string_match": {"exact": group(i)}}}}}}]}
        for i in range(RULES)}}}}


def warden(*stages):
    return [wasm_filter("warden", os.path.join(WASM, "warden.wasm"), {"stages": list(stages)})]


IDENTITY = {"name": "identity", "config": {"providers": [PROVIDER]}}
AUDIT = {"name": "audit", "config": {}}
AUDIT_STATUS = {"name": "audit", "config": {"outcome": "status"}}
MASK = {"name": "mask", "config": {"profiles": {"pii": {"detectors": ["email", "phone", "payment_card", "iban"]}}}}

# A 2 KiB JSON response with a few values to mask (the masking variant's route answers it).
CUSTOMERS = json.dumps({"customers": [
    {"id": i, "name": "Customer %d" % i, "email": "customer%d@example.com" % i, "plan": "enterprise",
     "notes": "renewal due next quarter; contact through the account team"} for i in range(14)]})
assert 1900 <= len(CUSTOMERS) <= 2300, len(CUSTOMERS)

PLAIN, JSON_BODY = {}, {"body": CUSTOMERS, "response_headers": {"content-type": "application/json"}}
VARIANTS = [
    ("no filter", [], PLAIN),
    ("empty wasm filter (floor)", [wasm_filter("probe", os.path.join(WASM, "warden_probe.wasm"), {})], PLAIN),
    ("envoy jwt_authn + rbac (1,000 policies)", [JWT_AUTHN, RBAC], PLAIN),
    ("warden.wasm identity (cached token)", warden(IDENTITY), PLAIN),
    ("warden.wasm identity + policy (1,000 rules)", warden(IDENTITY, {"name": "policy", "config": POLICY}), PLAIN),
    ("  + audit", warden(IDENTITY, {"name": "policy", "config": POLICY}, AUDIT), PLAIN),
    ("  + audit (outcome: status)", warden(IDENTITY, {"name": "policy", "config": POLICY}, AUDIT_STATUS), PLAIN),
    ("no filter, 2 KiB JSON response", [], JSON_BODY),
    ("  + mask of the 2 KiB JSON response", warden(IDENTITY, {"name": "policy", "config": MASKED_POLICY}, MASK, AUDIT), JSON_BODY),
]
if os.environ.get("ONLY"):
    VARIANTS = [v for v in VARIANTS if v[0].strip() in [o.strip() for o in os.environ["ONLY"].split(";")]]


def run(label, filters, response, tmp):
    return load(label, lambda port, admin: bootstrap(port, admin, filters, **response), tmp, DURATION, path=PATH,
                headers=["authorization: Bearer " + DATA["token"]])


def main():
    tmp = tempfile.mkdtemp(prefix="warden-chain-")
    rounds = [{label: run(label, filters, response, tmp) for label, filters, response in VARIANTS} for _ in range(ROUNDS)]
    labels = [label for label, _, _ in VARIANTS]

    def ratio(label, to):
        if to not in labels:
            return float("nan")
        return median([r[label]["rps"] / r[to]["rps"] for r in rounds])

    floor, native = "empty wasm filter (floor)", "envoy jwt_authn + rbac (1,000 policies)"
    print("\n%-44s %11s %8s %8s %9s %10s %10s" % (
        "Envoy 1.40, wrk -t1 -c10 -d%ss, %d rounds" % (DURATION, ROUNDS), "requests/s", "p50 ms", "p99 ms",
        "vs none", "vs floor", "vs native"))
    for label in labels:
        row = {key: median([r[label][key] for r in rounds]) for key in ("rps", "p50_ms", "p99_ms")}
        none = "no filter, 2 KiB JSON response" if "2 KiB" in label else "no filter"
        print("%-44s %11.0f %8.2f %8.2f %8.2fx %9.2fx %9.2fx" % (
            label, row["rps"], row["p50_ms"], row["p99_ms"], ratio(label, none), ratio(label, floor), ratio(label, native)))
    print("(medians over rounds; ratios: median of per-round ratios; the masking row's 'vs none' is against the same 2 KiB response)")

    # One worker serves wrk's 10 connections flat out, so 1/rps is the worker's time per request:
    # differences between neighbouring rows are what each part costs a request.
    def micros(label):
        return median([1e6 / r[label]["rps"] for r in rounds]) if label in labels else float("nan")

    steps = [("any wasm filter (floor over no filter)", "empty wasm filter (floor)", "no filter"),
             ("identity, cached token (over the floor)", "warden.wasm identity (cached token)", "empty wasm filter (floor)"),
             ("policy, 1,000 rules", "warden.wasm identity + policy (1,000 rules)", "warden.wasm identity (cached token)"),
             ("audit record (full outcome)", "  + audit", "warden.wasm identity + policy (1,000 rules)"),
             ("audit record (outcome: status)", "  + audit (outcome: status)", "warden.wasm identity + policy (1,000 rules)"),
             ]
    print("\nwhere a request's time goes (µs per request, from the rows above):")
    for name, row, base in steps:
        print("  %-44s %6.1f" % (name, micros(row) - micros(base)))
    # The masking chain serves a 2 KiB body: compare it with the same body and no filter, less
    # what the chain without masking costs over no filter.
    masking = (micros("  + mask of the 2 KiB JSON response") - micros("no filter, 2 KiB JSON response")) \
        - (micros("  + audit") - micros("no filter"))
    print("  %-44s %6.1f" % ("mask stage on a 2 KiB JSON response", masking))


if __name__ == "__main__":
    main()
