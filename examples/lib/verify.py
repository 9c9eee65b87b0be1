"""Shared helpers for example `verify` scripts: run an example's envoy.yaml in a real Envoy on
loopback ports that cannot collide, send requests, assert, and always stop Envoy by PID.

Standard library only. Run from anywhere; paths are resolved from the repo root.
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envoy_binary():
    return os.environ.get("WARDEN_ENVOY") or os.path.join(ROOT, ".venv", "bin", "envoy")


class Example:
    """An example's envoy.yaml started with its fixed ports replaced by free ones."""

    def __init__(self, folder, ports):
        self.folder = folder
        self.ports = {fixed: free_port() for fixed in ports}
        self.tmp = tempfile.mkdtemp(prefix="warden-example-")
        self.proc = None
        self.failures = 0
        self.passes = 0
        self.replace = {}  # text in envoy.yaml -> what to put there (set before `with`)

    def port(self, fixed):
        return self.ports[fixed]

    def __enter__(self):
        with open(os.path.join(self.folder, "envoy.yaml")) as f:
            config = f.read()
        for text, value in self.replace.items():
            config = config.replace(text, value)
        for fixed, free in self.ports.items():
            config = re.sub(r"\bport_value: %d\b" % fixed, "port_value: %d" % free, config)
        path = os.path.join(self.tmp, "envoy.yaml")
        with open(path, "w") as f:
            f.write(config)
        self.log = os.path.join(self.tmp, "envoy.log")
        validate = subprocess.run([envoy_binary(), "--mode", "validate", "-c", path], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if validate.returncode != 0:
            sys.exit("envoy --mode validate rejected %s:\n%s" % (self.folder, validate.stdout[-3000:]))
        print("PASS envoy --mode validate accepts %s/envoy.yaml" % os.path.basename(self.folder))
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", path, "--concurrency", "1", "--disable-hot-restart", "--log-path", self.log],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        waiting = list(self.ports.values())
        while waiting and time.time() < deadline:
            if self.proc.poll() is not None:
                self.fail_startup()
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.05)
        if waiting:
            self.fail_startup()
        return self

    def fail_startup(self):
        tail = open(self.log).read().splitlines()[-25:] if os.path.exists(self.log) else []
        self.stop()
        sys.exit("Envoy did not start; log tail:\n" + "\n".join(tail))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.stop()
        print("%s: %d passed, %d failed" % (os.path.basename(self.folder), self.passes, self.failures))
        if self.failures:
            sys.exit("%s: %d check(s) failed" % (os.path.basename(self.folder), self.failures))
        return False

    def request(self, fixed_port, method, path, headers=None, body=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port(fixed_port), timeout=timeout)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read().decode()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def check(self, name, condition, detail=""):
        print(("PASS " if condition else "FAIL ") + name + ("" if condition else ": " + detail))
        if condition:
            self.passes += 1
        else:
            self.failures += 1
