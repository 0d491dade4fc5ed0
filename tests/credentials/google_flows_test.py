"""Credential flows end to end through lroctl, against fakes on loopback.

Part A (any user):
  - external_account JSON with a file-sourced subject token and its token URL
    on 127.0.0.1 (a fake STS here): lroctl --credentials-file gets the STS
    token, `lroctl serve --require-token` accepts it;
  - a service-account key made with openssl now: `lroctl serve
    --jwt-public-key --jwt-audience` verifies grpc's self-signed JWT;
  - interop with a server nobody here wrote: a python3-grpcio server that
    requires client certificates (require_client_auth=True) and checks the
    bearer token, driven by lroctl --cert-file/--key-file
    --access-token-command; without a certificate: UNAVAILABLE.
Part B (root only; grpc 1.51 hard-codes metadata.google.internal and
oauth2.googleapis.com): the test re-runs itself inside `unshare -m -n` with
a private /etc/hosts mapping those names to 127.0.0.1, a fake metadata
server on :80 and a fake OAuth2 endpoint on :443 (HTTPS, test CA via
GRPC_DEFAULT_SSL_ROOTS_FILE_PATH): compute engine via --adc (metadata
fallback), authorized_user via --credentials-file and via ADC's gcloud
well-known file. Nothing leaves the namespace.
"""
import http.server
import json
import os
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from concurrent import futures

LROCTL = os.environ.get("LROCTL", "")
NAME = "projects/demo/locations/global/operations/op-00000"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def sh(cmd, cwd):
    subprocess.run(cmd, shell=True, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    sh(f"openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=flows-ca", d)
    with open(os.path.join(d, "srv.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:oauth2.googleapis.com\n")
    sh(f"openssl req {ec} -keyout srv.key -out srv.csr -subj /CN=localhost && "
       "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile srv.cnf -out srv.pem", d)
    with open(os.path.join(d, "cl.cnf"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    sh(f"openssl req {ec} -keyout cl.key -out cl.csr -subj /CN=interop-client && "
       "openssl x509 -req -in cl.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile cl.cnf -out cl.pem", d)
    sh("openssl genrsa -out sa.key 2048 && openssl rsa -in sa.key -pubout -out sa.pub", d)


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read()


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, body, headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ThreadedHTTP(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http(handler, port=0, tls=None):
    httpd = ThreadedHTTP(("127.0.0.1", port), handler)
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def start_lroctl_serve(d, extra):
    p = subprocess.Popen([LROCTL, "serve", "--listen", "127.0.0.1:0",
                          "--tls-cert", os.path.join(d, "srv.pem"),
                          "--tls-key", os.path.join(d, "srv.key")] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    target = p.stdout.readline().strip()
    return p, target


def lroctl(d, target, flags, env=None):
    e = dict(os.environ)
    e.pop("LRO_API_KEY", None)
    if env:
        e.update(env)
    r = subprocess.run([LROCTL, "--target", target, "--ca-file", os.path.join(d, "ca.pem"),
                        "--call-timeout", "20s"] + flags + ["get", NAME],
                       capture_output=True, text=True, env=e, timeout=120)
    return r


def json_escape_pem(pem):
    return json.dumps(pem)


# ---- Part A ------------------------------------------------------------------

def part_a(d):
    seen = {}

    class STS(Quiet):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = urllib.parse.parse_qs(body)
            seen["subject_token"] = form.get("subject_token", [""])[0]
            seen["grant_type"] = form.get("grant_type", [""])[0]
            self.answer(200, json.dumps({
                "access_token": "sts-access-token",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer", "expires_in": 3600}))

    sts = serve_http(STS)
    with open(os.path.join(d, "subject.txt"), "w") as f:
        f.write("subject-token-from-file")
    ea = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/"
                    "workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": f"http://127.0.0.1:{sts.server_address[1]}/v1/token",
        "credential_source": {"file": os.path.join(d, "subject.txt")},
    }
    with open(os.path.join(d, "ea.json"), "w") as f:
        json.dump(ea, f)
    sa = {"type": "service_account", "project_id": "p", "private_key_id": "kid-1",
          "private_key": read(d, "sa.key"), "client_email": "robot@p.iam.gserviceaccount.com",
          "client_id": "1"}
    with open(os.path.join(d, "sa.json"), "w") as f:
        json.dump(sa, f)

    srv, target = start_lroctl_serve(d, ["--require-token", "sts-access-token",
                                         "--jwt-public-key", os.path.join(d, "sa.pub"),
                                         "--jwt-audience", "https://PLACEHOLDER/"])
    srv.terminate()
    srv.wait()
    # The audience grpc signs for is https://<target>/: restart with it.
    port = target.rsplit(":", 1)[1]
    srv, target = start_lroctl_serve(d, ["--listen", f"127.0.0.1:{port}",
                                         "--require-token", "sts-access-token",
                                         "--jwt-public-key", os.path.join(d, "sa.pub"),
                                         "--jwt-audience", f"https://127.0.0.1:{port}/"])
    try:
        r = lroctl(d, target, ["--credentials-file", os.path.join(d, "ea.json")])
        check(r.returncode == 0, f"external_account accepted ({r.returncode} {r.stderr.strip()})")
        check(seen.get("subject_token") == "subject-token-from-file",
              "the STS received the file-sourced subject token")
        check(seen.get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange",
              "token exchange grant")
        r = lroctl(d, target, ["--credentials-file", os.path.join(d, "sa.json")])
        check(r.returncode == 0, f"service-account JWT verified ({r.returncode} {r.stderr.strip()})")
        check("BEGIN" not in r.stderr and "PRIVATE" not in r.stderr, "no key material printed")
        r = lroctl(d, target, ["--adc"],
                   {"GOOGLE_APPLICATION_CREDENTIALS": os.path.join(d, "sa.json")})
        check(r.returncode == 0, f"ADC via GOOGLE_APPLICATION_CREDENTIALS ({r.stderr.strip()})")
        r = lroctl(d, target, ["--access-token-command", "echo wrong-token"])
        check(r.returncode == 26, f"a wrong token: UNAUTHENTICATED ({r.returncode})"
              + ("" if r.returncode == 26 else "\n" + r.stderr[-6000:]))
        check("wrong-token" not in r.stderr + r.stdout, "the wrong token is not printed")
        r = lroctl(d, target, ["--access-token-command", "echo sts-access-token", "-v"])
        check(r.returncode == 0 and "sts-access-token" not in r.stderr,
              f"--access-token-command with -v: accepted, the token never printed "
              f"({r.returncode} {r.stderr[-1500:] if r.returncode else ''})")
        # One command run per process however many calls; JSON output with
        # expires_in understood.
        count = os.path.join(d, "count.txt")
        cmd = (f"echo run >> {count}; echo '{{\"access_token\": \"sts-access-token\", "
               f"\"expires_in\": 3599}}'")
        r = subprocess.run([LROCTL, "--target", target, "--ca-file", os.path.join(d, "ca.pem"),
                            "--access-token-command", cmd, "wait", NAME,
                            NAME.replace("op-00000", "op-00001"),
                            NAME.replace("op-00000", "op-00002")],
                           capture_output=True, text=True, timeout=120)
        with open(count) as f:
            runs = f.read().count("run")
        check(r.returncode in (0, 3) and runs == 1,
              f"--access-token-command (JSON) ran once for 3 awaits ({r.returncode}, {runs} "
              f"runs, {r.stderr.strip()[-300:]})")
        with open(os.path.join(d, "bad.json"), "w") as f:
            f.write('{"type": "service_account", "private_key": "SECRETKEY"}')
        r = lroctl(d, target, ["--credentials-file", os.path.join(d, "bad.json")])
        check(r.returncode == 2 and "client_email" in r.stderr and "SECRETKEY" not in r.stderr,
              f"a bad key file: usage error naming the field ({r.stderr.strip()})")
    finally:
        srv.terminate()
        srv.wait()
        sts.shutdown()


def operation_bytes(name, done=True):
    n = name.encode()
    out = b"\x0a" + bytes([len(n)]) + n  # name (short names: one-byte length)
    if done:
        out += b"\x18\x01"
    return out


def part_interop(d):
    import grpc
    seen = {}

    def get(req, ctx):
        md = dict(ctx.invocation_metadata())
        cn = ctx.auth_context().get("x509_common_name", [b""])
        seen["cn"] = cn[0].decode() if cn else ""
        if md.get("authorization") != "Bearer interop-token":
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "bad or missing bearer token")
        name = req[2:2 + req[1]].decode() if req[:1] == b"\x0a" else ""
        return operation_bytes(name)

    handler = grpc.method_handlers_generic_handler("google.longrunning.Operations", {
        "GetOperation": grpc.unary_unary_rpc_method_handler(
            get, request_deserializer=None, response_serializer=None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(read(d, "srv.key").encode(), read(d, "srv.pem").encode())],
        root_certificates=read(d, "ca.pem").encode(), require_client_auth=True)
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    target = f"127.0.0.1:{port}"
    try:
        flags = ["--cert-file", os.path.join(d, "cl.pem"), "--key-file",
                 os.path.join(d, "cl.key"), "--access-token-command", "echo interop-token"]
        r = lroctl(d, target, flags)
        check(r.returncode == 0 and NAME in r.stdout,
              f"python3-grpcio mTLS server: OK ({r.returncode} {r.stderr.strip()})")
        check(seen.get("cn") == "interop-client", f"it saw our certificate ({seen.get('cn')})")
        r = lroctl(d, target, ["--access-token-command", "echo interop-token"])
        check(r.returncode == 24, f"no client certificate: UNAVAILABLE ({r.returncode})")
        check("TLS handshake" in r.stderr and "sent none" in r.stderr,
              f"the message names the handshake ({r.stderr.strip()[:300]})")
        flags[-1] = "echo other-token"
        r = lroctl(d, target, flags)
        check(r.returncode == 26, f"the server's UNAUTHENTICATED passes through ({r.returncode})")
    finally:
        server.stop(0)


# ---- Part B (root, private namespaces) ----------------------------------------

def part_b_inside(d):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n127.0.0.1 metadata.google.internal.\n"
                "127.0.0.1 metadata.google.internal\n127.0.0.1 oauth2.googleapis.com\n")
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    hits = {"metadata": 0, "oauth": 0}

    class Metadata(Quiet):
        def do_GET(self):
            if self.path == "/":
                self.answer(200, "", [("Metadata-Flavor", "Google")])
            elif "/service-accounts/default/token" in self.path and \
                    self.headers.get("Metadata-Flavor") == "Google":
                hits["metadata"] += 1
                self.answer(200, json.dumps({"access_token": "ya29.compute-token",
                                             "expires_in": 3600, "token_type": "Bearer"}),
                            [("Metadata-Flavor", "Google")])
            else:
                self.answer(404, "{}", [("Metadata-Flavor", "Google")])

    class OAuth(Quiet):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = urllib.parse.parse_qs(body)
            if form.get("refresh_token") == ["refresh-secret"]:
                hits["oauth"] += 1
                self.answer(200, json.dumps({"access_token": "ya29.user-token",
                                             "expires_in": 3600, "token_type": "Bearer"}))
            else:
                self.answer(400, json.dumps({"error": "invalid_grant"}))

    # Nothing to find yet (no metadata server listening): ADC says what it
    # searched.
    home0 = os.path.join(d, "empty-home")
    os.makedirs(home0, exist_ok=True)
    r = subprocess.run([LROCTL, "--target", "127.0.0.1:1", "--adc", "get", NAME],
                       capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in dict(os.environ, HOME=home0).items()
                            if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG")})
    check(r.returncode == 2 and "GOOGLE_APPLICATION_CREDENTIALS is not set" in r.stderr and
          "application_default_credentials.json does not exist" in r.stderr and
          "metadata.google.internal" in r.stderr,
          f"ADC with nothing to find lists what it searched ({r.stderr.strip()})")
    md = serve_http(Metadata, 80)
    oa = serve_http(OAuth, 443, tls=(os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")))
    srv, target = start_lroctl_serve(d, ["--require-token", "ya29.compute-token",
                                         "--require-token", "ya29.user-token"])
    home = os.path.join(d, "home")
    os.makedirs(home, exist_ok=True)
    env = {"HOME": home, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": os.path.join(d, "ca.pem")}
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    os.environ.pop("CLOUDSDK_CONFIG", None)
    try:
        r = lroctl(d, target, ["--adc"], env)
        check(r.returncode == 0 and hits["metadata"] >= 1,
              f"ADC -> metadata server -> compute engine token ({r.returncode} "
              f"{r.stderr.strip()})")
        au = {"type": "authorized_user", "client_id": "cid", "client_secret": "csecret",
              "refresh_token": "refresh-secret", "quota_project_id": "user-billing"}
        with open(os.path.join(d, "au.json"), "w") as f:
            json.dump(au, f)
        r = lroctl(d, target, ["--credentials-file", os.path.join(d, "au.json")], env)
        check(r.returncode == 0 and hits["oauth"] >= 1,
              f"authorized_user -> oauth2.googleapis.com ({r.returncode} {r.stderr.strip()})")
        check("refresh-secret" not in r.stderr and "csecret" not in r.stderr, "no secret printed")
        gdir = os.path.join(home, ".config", "gcloud")
        os.makedirs(gdir, exist_ok=True)
        with open(os.path.join(gdir, "application_default_credentials.json"), "w") as f:
            json.dump(au, f)
        before = hits["oauth"]
        r = lroctl(d, target, ["--adc"], env)
        check(r.returncode == 0 and hits["oauth"] > before and hits["metadata"] == 1,
              f"ADC -> gcloud well-known file -> authorized_user ({r.returncode})")
        with open(os.path.join(gdir, "application_default_credentials.json"), "w") as f:
            f.write("{not json")
        r = lroctl(d, target, ["--adc"], env)
        check(r.returncode == 2 and "well-known" in r.stderr,
              f"a broken well-known file: a clear error ({r.stderr.strip()})")
    finally:
        srv.terminate()
        srv.wait()
        md.shutdown()
        oa.shutdown()


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--inside":
        part_b_inside(sys.argv[2])
        sys.exit(1 if failures else 0)
    tmp = os.environ.get("TEST_TMPDIR")
    d = tempfile.mkdtemp(dir=tmp)
    make_pki(d)
    part_a(d)
    part_interop(d)
    if os.geteuid() != 0:
        print("SKIP part B (compute engine, ADC, authorized_user): needs root for "
              "`unshare -m -n` and a bind-mounted /etc/hosts; CI runs as root", flush=True)
    else:
        r = subprocess.run(["unshare", "-m", "-n", "--", sys.executable, __file__, "--inside", d])
        check(r.returncode == 0, "part B inside unshare -m -n")
    if failures:
        print(f"{len(failures)} FAILED: {failures}")
        sys.exit(1)
    print("google_flows_test: OK")


if __name__ == "__main__":
    main()
