#!/usr/bin/env python3
"""Benchmark (ci/bench): 500 requests held at once in Envoy 1.40 by warden.wasm's approval
stage (examples/approvals: identity, policy, approval; `warden serve` on SQLite), then all
approved. Reports Envoy's memory per held request, how long it took to create and to release
them, and checks that none was lost or mixed up: every request ends 200 and the API received
each path exactly once, with the id of the approval given for that path."""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "lib"))
sys.path.insert(0, os.path.join(ROOT, "examples", "approvals"))
from verify import Example  # noqa: E402

HELD = int(os.environ.get("HELD", "500"))
WARDEN = os.environ.get("WARDEN_BIN") or os.path.join(ROOT, "target", "release", "warden")
FOLDER = os.path.join(ROOT, "examples", "approvals")
received = []
lock = threading.Lock()


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_DELETE(self):
        with lock:
            received.append((self.path, self.headers.get("x-warden-approval-id")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_DELETE

    def log_message(self, *args):
        pass


def token(subject, groups):
    import base64, hashlib, hmac  # noqa: E401
    b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()  # noqa: E731
    header = b64(json.dumps({"alg": "HS256", "kid": "demo", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": "https://idp.demo.test", "sub": subject, "groups": groups,
                             "exp": int(time.time()) + 600}).encode())
    sig = hmac.new(b"demo-idp-secret-not-for-production-use", (header + "." + claims).encode(), hashlib.sha256).digest()
    return header + "." + claims + "." + b64(sig)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main():
    example = Example(FOLDER, ports=[10000, 10001, 8731, 9901])
    url = "http://127.0.0.1:%d" % example.port(8731)
    shutil.rmtree(os.path.join(ROOT, ".warden-tmp", "examples-approvals"), ignore_errors=True)
    service = subprocess.Popen([WARDEN, "serve", "--config", os.path.join(FOLDER, "approvals.yaml"),
                                "--listen", "127.0.0.1:%d" % example.port(8731)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    api = ThreadingHTTPServer(("127.0.0.1", example.port(10001)), Api)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    bob = {"authorization": "Bearer " + token("bob", ["dba"]), "content-type": "application/json"}

    def service_call(method, path, body=None):
        request = urllib.request.Request(url + path, method=method, headers=bob,
                                         data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    try:
        service.stdout.readline()
        keys = json.load(urllib.request.urlopen(url + "/v1/keys", timeout=5))
        example.replace["RECEIPT_PUBLIC_KEY"] = keys["keys"][0]["public_key"]
        with example as ex:
            status, _, _ = ex.request(10000, "GET", "/warm-up", {"x-api-key": "demo-alice-key"})
            assert status == 200, status
            base = rss_kib(ex.proc.pid)
            results = {}

            def hold(i):
                try:
                    results[i] = ex.request(10000, "DELETE", "/customers/%d" % i, {"x-api-key": "demo-alice-key"}, timeout=60)[0]
                except Exception as e:  # noqa: BLE001
                    results[i] = repr(e)

            started = time.time()
            threads = [threading.Thread(target=hold, args=(i,)) for i in range(HELD)]
            for t in threads:
                t.start()
            pending = []
            while time.time() - started < 25:
                pending = service_call("GET", "/v1/approvals")["approvals"]
                if len(pending) >= HELD:
                    break
                time.sleep(0.2)
            created_in = time.time() - started
            held_rss = rss_kib(ex.proc.pid)
            if len(pending) < HELD:
                sys.exit("only %d of %d held requests reached the approval service" % (len(pending), HELD))
            by_id = {a["id"]: a["action"]["path"] for a in pending}
            released = time.time()
            for a in pending:
                service_call("POST", "/v1/approvals/%s/approve" % a["id"], {})
            for t in threads:
                t.join(60)
            released_in = time.time() - released
            ok = sum(1 for s in results.values() if s == 200)
            paths = [p for p, _ in received if p.startswith("/customers/")]
            mixed = [(p, i) for p, i in received if p.startswith("/customers/") and by_id.get(i) != p]
            print("approval hold load: %d requests held at once in Envoy 1.40 (warden.wasm, --concurrency 1)" % HELD)
            print("  Envoy RSS %.1f MiB -> %.1f MiB with all held: %.1f KiB per held request"
                  % (base / 1024, held_rss / 1024, (held_rss - base) / HELD))
            print("  all created at the service in %.1f s; approved one by one and all answered in %.1f s"
                  % (created_in, released_in))
            print("  answered 200: %d/%d; reached the API: %d, distinct paths %d; mixed up (path != approval's path): %d"
                  % (ok, HELD, len(paths), len(set(paths)), len(mixed)))
            if ok != HELD or len(paths) != HELD or len(set(paths)) != HELD or mixed:
                sys.exit("held requests were lost or mixed up")
    finally:
        service.terminate()
        service.wait(5)
        api.shutdown()


main()
