"""The 1,000 path/header policy rules the benchmarks share (`policy-scenarios.py` for the
harness, `ci/envoy-footprint.py` for Envoy): even rules match GET on a path prefix, odd rules
an exact path and an `x-tenant` header; `/svc501/items` with `x-tenant: t1` matches one."""


def thousand_rules():
    rules = []
    for i in range(1000):
        if i % 2 == 0:
            match = {"methods": ["GET"], "paths": [{"prefix": "/svc%d/" % i}]}
        else:
            match = {"paths": [{"exact": "/svc%d/items" % i}], "headers": {"x-tenant": {"equals": "t%d" % (i % 10)}}}
        rules.append({"id": "r%d" % i, "match": match, "effect": "allow"})
    return rules
