"""A small OpenID Connect provider for tests and demos: discovery, an authorization endpoint
with a login form (no password: pick a user), the token endpoint (authorization code with
PKCE S256 only, client_secret_post) and a JWKS. ID tokens are ES256, signed with a key made
at start (Python's `cryptography`). Never for production: anyone can sign in as anyone.

    provider = OidcProvider(port, clients={"warden-approvals": ("secret", ["http://.../ui/callback"])},
                            users={"bob": {"groups": ["dba"]}})
    provider.start(); ...; provider.stop()
"""
import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self, port, clients, users, host="127.0.0.1"):
        self.issuer = "http://%s:%d" % (host, port)
        self.port = port
        self.clients = clients  # client_id -> (secret, [redirect_uri, ...])
        self.users = users  # username -> extra claims (groups, email, ...)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "demo-" + secrets.token_hex(4)
        self.codes = {}
        self.log = []  # what happened: ("login", user) / ("token", client_id, ok, why)
        self.lock = threading.Lock()
        self.server = None

    # -- tokens ---------------------------------------------------------------------------------
    def jwk(self):
        numbers = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}

    def sign(self, claims):
        header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": self.kid}).encode())
        payload = b64(json.dumps(claims).encode())
        der = self.key.sign((header + "." + payload).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return header + "." + payload + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def id_token(self, user, client_id, nonce, auth_time):
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user, "aud": client_id, "iat": now, "exp": now + 300,
                  "auth_time": auth_time, "nonce": nonce, "email": "%s@example.com" % user}
        claims.update(self.users.get(user, {}))
        return self.sign(claims)

    # -- server ---------------------------------------------------------------------------------
    def start(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body, content_type="application/json", headers=()):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.send_header("cache-control", "no-store")
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def form(self):
                length = int(self.headers.get("content-length") or 0)
                return {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self.send(200, json.dumps({
                        "issuer": provider.issuer,
                        "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token",
                        "jwks_uri": provider.issuer + "/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["ES256"],
                        "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_post"]}))
                elif url.path == "/jwks":
                    self.send(200, json.dumps({"keys": [provider.jwk()]}))
                elif url.path == "/authorize":
                    client = provider.clients.get(query.get("client_id"))
                    if (not client or query.get("redirect_uri") not in client[1]
                            or query.get("response_type") != "code"
                            or query.get("code_challenge_method") != "S256" or not query.get("code_challenge")):
                        return self.send(400, "invalid authorization request", "text/plain")
                    hidden = "".join('<input type="hidden" name="%s" value="%s">' % (html.escape(k), html.escape(v))
                                     for k, v in query.items())
                    page = ("<!doctype html><html lang=en><head><title>Demo IdP sign-in</title></head><body>"
                            "<h1>Demo identity provider</h1><form method=post action=/authorize>%s"
                            "<label for=username>User name</label> <input id=username name=username autofocus> "
                            "<button type=submit>Sign in</button></form></body></html>") % hidden
                    self.send(200, page, "text/html; charset=utf-8")
                else:
                    self.send(404, "{}")

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                form = self.form()
                if url.path == "/authorize":
                    user = form.get("username", "")
                    if user not in provider.users:
                        return self.send(403, "unknown user", "text/plain")
                    code = secrets.token_urlsafe(24)
                    with provider.lock:
                        provider.codes[code] = {"user": user, "client_id": form.get("client_id"),
                                                "redirect_uri": form.get("redirect_uri"),
                                                "challenge": form.get("code_challenge"),
                                                "nonce": form.get("nonce"), "auth_time": int(time.time())}
                        provider.log.append(("login", user))
                    target = "%s?%s" % (form.get("redirect_uri"),
                                        urllib.parse.urlencode({"code": code, "state": form.get("state", "")}))
                    self.send(302, "", "text/plain", [("location", target)])
                elif url.path == "/token":
                    with provider.lock:
                        grant = provider.codes.pop(form.get("code", ""), None)  # single use
                    client = provider.clients.get(form.get("client_id"))
                    verifier = form.get("code_verifier", "")
                    why = None
                    if form.get("grant_type") != "authorization_code" or grant is None:
                        why = "invalid_grant"
                    elif not client or form.get("client_secret") != client[0] or grant["client_id"] != form.get("client_id"):
                        why = "invalid_client"
                    elif form.get("redirect_uri") != grant["redirect_uri"]:
                        why = "invalid_grant (redirect_uri)"
                    elif b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
                        why = "invalid_grant (PKCE)"
                    with provider.lock:
                        provider.log.append(("token", form.get("client_id"), why is None, why))
                    if why:
                        return self.send(400, json.dumps({"error": why.split(" ")[0]}))
                    token = provider.id_token(grant["user"], grant["client_id"], grant["nonce"], grant["auth_time"])
                    self.send(200, json.dumps({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                                               "expires_in": 300, "id_token": token}))
                else:
                    self.send(404, "{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
