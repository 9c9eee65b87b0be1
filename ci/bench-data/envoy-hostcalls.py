#!/usr/bin/env python3
"""What one hostcall costs a request in Envoy 1.40's V8: the probe module (host-test's fixture)
doing N of one hostcall in on_log, against N clock reads (the cheapest call; every probe step
also logs its result, so both sides pay that). One Envoy per variant (--concurrency 1, pinned),
wrk -c10, ROUNDS rounds of DURATION s, medians. The audit stage's record pays the on_log
crossing, one property read per outcome field and one set_property: this says what each is."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from envoy_bench import WASM, bootstrap, load, median, wasm_filter  # noqa: E402

N = 8
DURATION = os.environ.get("DURATION", "3")
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def probe(step):
    return [wasm_filter("probe", os.path.join(WASM, "warden_probe.wasm"), {"log": [step] * N if step else []})]


VARIANTS = [
    ("on_log with nothing to do", probe(None)),
    ("clock read (baseline)", probe({"op": "time"})),
    ("property response.code", probe({"op": "get_property", "path": ["response", "code"]})),
    ("property response.code_details", probe({"op": "get_property", "path": ["response", "code_details"]})),
    ("property source.address", probe({"op": "get_property", "path": ["source", "address"]})),
    ("response header :status", probe({"op": "get_header", "map": "response", "name": ":status"})),
    ("request header :path", probe({"op": "get_header", "map": "request", "name": ":path"})),
    ("set_property of 700 bytes", probe({"op": "set_property", "path": ["wasm", "x"], "value": "x" * 700})),
]


def main():
    tmp = tempfile.mkdtemp(prefix="warden-hostcalls-")
    rounds = [{label: load(label, lambda port, admin, f=f: bootstrap(port, admin, f), tmp, DURATION)["rps"]
               for label, f in VARIANTS} for _ in range(ROUNDS)]
    base = median([1e6 / r["clock read (baseline)"] for r in rounds])
    print("\n%-34s %11s %12s %22s" % ("probe, %d of one hostcall in on_log" % N, "requests/s", "µs/request",
                                       "µs per call over a clock read"))
    for label, _ in VARIANTS:
        us = median([1e6 / r[label] for r in rounds])
        extra = "" if label.startswith("on_log") else "%+.2f" % ((us - base) / N)
        print("%-34s %11.0f %12.2f %22s" % (label, median([r[label] for r in rounds]), us, extra))


if __name__ == "__main__":
    main()
