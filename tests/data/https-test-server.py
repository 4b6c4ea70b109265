#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Loopback HTTPS + plain-HTTP server for the http/auth unit tests only: canned routes (JSON, errors,
# Retry-After, stalls, oversized and dripping bodies, MAA-shaped error replies) plus emulated IMDS
# and Entra token endpoints.
"""usage: https-test-server.py DIR

Creates DIR/ca.pem, DIR/wrong-ca.pem, DIR/server.pem and DIR/server.key unless present (the server
certificate names only IP 127.0.0.1, so https://localhost/ is a hostname mismatch), listens on
127.0.0.1 with HTTPS and with plain HTTP on ephemeral ports, prints "READY <https> <http>" and
serves until stdin reaches EOF (the test process died or closed the pipe) or SIGTERM."""

import datetime
import email.utils
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IMDS_QUERY = "api-version=2018-02-01&resource=https%3A%2F%2Fattest.azure.net"
CC_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CC_SECRET = "s3cr3t/+=&% ~.x"
CC_SCOPE = "https://attest.azure.net/.default"
BIG = 2 * 1024 * 1024
REQUEST_ID = "Xq3v-Lp9_Tz0Wb8k"  # 16 characters, as on the real service's /attest/Tpm
# The shape of a real policy denial: a native trace over several lines (REAL-SERVICE.md, Errors).
DENY_TRACE = ("Native operation failed with 65518: D:\\build\\PolicyEngine.cpp(42)\\attest!0000000000001234: "
              "(caller: 0000000000005678) Exception(0) 83FFFFEE Policy Evaluation Error has occurred "
              "Msg:[Policy Engine Exception: A Deny claim was issued, authorization failed.]\r\n\n"
              "D:\\build\\api.cpp(99)\\attest!0000000000009abc: (caller: 000000000000def0) LogHr(0) 83FFFFEE "
              "Policy Evaluation Error has occurred Msg:[Unhandled Exception: \"Policy Evaluation Error has "
              "occurred\"]\n\t\n")

counts = {}
counts_lock = threading.Lock()


def make_cert(subject_cn, issuer_name, issuer_key, key, ca, san_ip=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    b = (x509.CertificateBuilder()
         .subject_name(name)
         .issuer_name(issuer_name or name)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False), critical=True)
    else:
        import ipaddress
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                            critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def write_pem(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def ensure_certs(d):
    if all(os.path.exists(os.path.join(d, n)) for n in ("ca.pem", "wrong-ca.pem", "server.pem", "server.key")):
        return
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = make_cert("attestd test CA", None, ca_key, ca_key, True)
    wrong_key = ec.generate_private_key(ec.SECP256R1())
    wrong = make_cert("attestd wrong CA", None, wrong_key, wrong_key, True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = make_cert("127.0.0.1", ca.subject, ca_key, srv_key, False, san_ip="127.0.0.1")
    pem = serialization.Encoding.PEM
    write_pem(os.path.join(d, "server.key"),
              srv_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write_pem(os.path.join(d, "server.pem"), srv.public_bytes(pem))
    write_pem(os.path.join(d, "wrong-ca.pem"), wrong.public_bytes(pem))
    write_pem(os.path.join(d, "ca.pem"), ca.public_bytes(pem))


def token_reply(scen, kind, n):
    """Body for the IMDS ('imds') or client-credentials ('cc') token endpoints in scenario SCEN.
    Only the part before a '-' selects the behaviour, so tests can count requests per unique SCEN."""
    now = int(time.time())
    tok = "eyJ0eXAiOiJKV1QifQ.%s-%s-%d.c2ln" % (kind, scen, n)
    scen = scen.split("-")[0]
    strs = kind == "imds"  # IMDS sends numbers as strings, Entra as numbers
    lifetime = 1 if scen == "short" else 3599
    ok = {"access_token": tok, "token_type": "Bearer",
          "expires_in": str(lifetime) if strs else lifetime}
    if kind == "imds":
        ok.update({"expires_on": str(now + lifetime), "resource": "https://attest.azure.net"})
    else:
        ok["ext_expires_in"] = lifetime
    if scen == "onlyexpireson":
        del ok["expires_in"]
        ok["expires_on"] = str(now + 3600)
    elif scen == "noexpiry":
        ok.pop("expires_in", None)
        ok.pop("expires_on", None)
    elif scen == "notoken":
        del ok["access_token"]
    elif scen == "badtype":
        ok["token_type"] = "mac"
    elif scen == "badchars":
        ok["access_token"] = "abc\r\nX-Injected: 1"
    elif scen == "numtoken":
        ok["access_token"] = 12345
    elif scen == "badexpiry":
        ok["expires_in"] = "soon"
    elif scen == "stall":
        time.sleep(30)
    elif scen == "huge":
        ok["access_token"] = "A" * (200 * 1024)
    elif scen == "err400":
        return 400, "application/json", {"error": "invalid_request", "error_description": "Identity not found"}
    elif scen == "err500":
        return 500, "text/plain", "upstream exploded"
    elif scen == "busy":
        return 429, "application/json", {"error": "too_many_requests", "error_description": "slow down"}
    elif scen == "unavailable":
        return 503, "application/json", {"error": "temporarily_unavailable", "error_description": "later"}
    elif scen == "utf8cut":
        # Multi-byte characters across attestd's 300-byte cut of an error description.
        return 400, "application/json", {"error": "invalid_request",
                                         "error_description": "x" * 299 + "\u00e9\u20ac" * 20}
    elif scen == "nojson":
        return 200, "text/html", "<html>not json</html>"
    elif scen == "array":
        return 200, "application/json", [1, 2, 3]
    return 200, "application/json", ok


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_chunked(self, chunks, delay=0.0, status=200, ctype="application/octet-stream", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        for c in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.flush()
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        path, q = u.path, urllib.parse.parse_qs(u.query)
        body = self.read_body()
        if path != "/stats":
            with counts_lock:
                counts[path] = counts.get(path, 0) + 1
        parts = path.split("/")

        if path == "/stats":
            with counts_lock:
                self.send(200, {"count": counts.get(q.get("path", [""])[0], 0)})
        elif path == "/json":
            self.send(200, {"hello": "world"})
        elif path == "/echo":
            self.send(200, {"method": method, "query": u.query, "body": body.decode("latin-1"),
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "tls": isinstance(self.connection, ssl.SSLSocket)})
        elif path.startswith("/status/"):
            self.send(int(parts[2]), "status %s" % parts[2], "text/plain")
        elif path == "/ms-error":
            self.send(400, {"error": {"code": "InvalidParameter", "message": "bad"}},
                      headers=[("x-ms-error-code", "InvalidParameter")])
        elif path.startswith("/maa/"):
            self.maa_reply(parts[2])
        elif path == "/retry-after/delta":
            self.send(429, "busy", "text/plain", headers=[("Retry-After", "7")])
        elif path == "/retry-after/date":
            self.send(503, "busy", "text/plain",
                      headers=[("Retry-After", email.utils.formatdate(time.time() + 120, usegmt=True))])
        elif path == "/retry-after/garbage":
            self.send(503, "busy", "text/plain", headers=[("Retry-After", "whenever")])
        elif path == "/stall":
            time.sleep(30)
            self.send(200, "late", "text/plain")
        elif path == "/big":
            self.send(200, b"x" * BIG, "application/octet-stream")
        elif path == "/big-chunked":
            self.send_chunked([b"y" * 65536] * (BIG // 65536))
        elif path == "/drip":
            n, delay = int(q.get("n", ["5"])[0]), float(q.get("delay", ["0.1"])[0])
            self.send_chunked([b"drip%d;" % i for i in range(n)], delay)
        elif path == "/redirect":
            self.send(302, "moved", "text/plain", headers=[("Location", "/json")])
        elif len(parts) == 6 and parts[2:] == ["metadata", "identity", "oauth2", "token"]:
            self.imds(method, parts[1], u.query)
        elif len(parts) == 6 and parts[3:] == ["oauth2", "v2.0", "token"]:
            self.client_credentials(method, parts[1], parts[2], body)
        else:
            self.send(404, "no route %s" % path, "text/plain")

    def maa_reply(self, scen):
        """Replies shaped like the real service's: chunked, request id and service version, and
        for errors no x-ms-error-code and Connection: close."""
        rid = {"badid": "has space " + REQUEST_ID, "longid": "A" * 129}.get(scen, REQUEST_ID)
        headers = [("x-ms-request-id", rid), ("x-ms-maa-service-version", "1.11.03163.0001")]
        if scen == "ok":
            body, status = {"data": "e30"}, 200
        elif scen == "deny":
            body = {"error": {"code": "PolicyEvaluationError", "message": DENY_TRACE}}
            status = 400
        elif scen == "unauthorized":
            body, status = {"error": {"code": "Unauthorized", "message": "Access denied."}}, 401
        else:
            body = {"error": {"code": "Bad request", "message": "A VBS attestation policy has not been set "
                              "on the attestation provider."}}
            status = 400
        if status != 200:
            headers.append(("Connection", "close"))
        data = json.dumps(body).encode()
        self.send_chunked([data[:20], data[20:]], status=status, ctype="application/json; charset=utf-8",
                          headers=headers)
        if status != 200:
            self.close_connection = True

    def reject(self, why):
        self.send(400, {"error": "invalid_request", "error_description": "test server: " + why})

    def imds(self, method, scen, query):
        if method != "GET":
            return self.reject("IMDS wants GET")
        if self.headers.get("Metadata") != "true":
            return self.reject("missing Metadata: true")
        if isinstance(self.connection, ssl.SSLSocket):
            return self.reject("IMDS is plain http")
        if query != IMDS_QUERY and not (query.startswith(IMDS_QUERY + "&client_id=") and
                                        urllib.parse.parse_qs(query)["client_id"] == [CC_CLIENT_ID]):
            return self.reject("unexpected query " + query)
        if "authorization" in (k.lower() for k in self.headers.keys()):
            return self.reject("unexpected Authorization header")
        with counts_lock:
            n = counts.get(self.path.split("?")[0], 0)
        status, ctype, body = token_reply(scen, "imds", n)
        retry = {"busy": "3", "unavailable": "2147483647"}.get(scen.split("-")[0])
        self.send(status, body, ctype, headers=[("Retry-After", retry)] if retry else ())

    def client_credentials(self, method, scen, tenant, body):
        if method != "POST":
            return self.reject("token endpoint wants POST")
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self.reject("bad Content-Type")
        if tenant != "contoso.onmicrosoft.com":
            return self.reject("unexpected tenant " + tenant)
        try:
            form = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            return self.reject("form does not parse: %s" % e)
        want = {"grant_type": ["client_credentials"], "client_id": [CC_CLIENT_ID], "scope": [CC_SCOPE]}
        if {k: v for k, v in form.items() if k != "client_secret"} != want:
            return self.reject("unexpected form fields")
        if form.get("client_secret") != [CC_SECRET]:
            return self.send(401, {"error": "invalid_client",
                                   "error_description": "AADSTS7000215: Invalid client secret provided.",
                                   "error_codes": [7000215]})
        with counts_lock:
            n = counts.get(self.path, 0)
        status, ctype, reply = token_reply(scen, "cc", n)
        self.send(status, reply, ctype, headers=[("Retry-After", "3")] if status == 429 else ())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs of concurrent clients (1 s retransmit)
    tls = None

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so a stuck client blocks nobody.
        if self.tls:
            request.settimeout(10)
            request = self.tls.wrap_socket(request, server_side=True)
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # clients that reject our certificate or hang up are part of the tests


def main():
    d = sys.argv[1]
    ensure_certs(d)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
    https = Server(("127.0.0.1", 0), Handler)
    https.tls = tls
    plain = Server(("127.0.0.1", 0), Handler)
    for s in (https, plain):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("READY %d %d" % (https.server_address[1], plain.server_address[1]), flush=True)
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
