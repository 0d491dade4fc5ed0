"""lro-c's C API against a server nobody here wrote (issue 16, "driven by the
library"; lroctl's half is in google_flows_test.py).

usage: grpcio_interop_test.py CLIENT OPERATIONS_DESCRIPTOR_SET

The server is python3-grpcio with ssl_server_credentials(...,
require_client_auth=True); its messages come from the upstream googleapis
google/longrunning/operations.proto (a descriptor set protoc built from
@upstream_protos), not from lro-c's proto/. Every call it receives is recorded
with the client certificate's CN and the authorization header, and refused
UNAUTHENTICATED unless the token is one of the accepted ones.

CLIENT (grpcio_interop_client.c) runs eight cases with the public API and
prints one line per case (case8, rotating certificate files, against a
second server that ends connections every 300 ms so that the client
handshakes again); this driver then checks what the server recorded,
so a library that sent no certificate or no token fails here even if the
client's own checks were fooled. Last, a negative control: the same client
against a server that accepts none of its tokens must report failures.
"""
import os
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

CLIENT, DESCRIPTORS = sys.argv[1:3]
PARENT = "projects/interop/locations/global/operations"
REFUSAL = "the grpcio server does not accept this bearer token"
CN = "interop-client"
# Polls (Get or Wait) of case2-op after which it is done.
DONE_AFTER = 6

# Under --config=valgrind (LRO_UNDER_VALGRIND=1; bazel's --run_under wraps
# only the shell script, and without --trace-children) the C client itself
# runs under memcheck: any error or definite leak makes it exit 99.
VALGRIND = ["valgrind", "--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--error-exitcode=99"] \
    if os.environ.get("LRO_UNDER_VALGRIND") else []

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def sh(cmd, cwd):
    subprocess.run(cmd, shell=True, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """The server's CA, a server certificate for 127.0.0.1/localhost, a
    client certificate from that CA (CN interop-client) and one from another
    CA (CN interop-intruder)."""
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    sh(f"openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=interop-ca", d)
    sh(f"openssl req -x509 {ec} -keyout ca2.key -out ca2.pem -days 2 -subj /CN=other-ca", d)
    with open(os.path.join(d, "srv.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh(f"openssl req {ec} -keyout srv.key -out srv.csr -subj /CN=localhost && "
       "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile srv.cnf -out srv.pem", d)
    with open(os.path.join(d, "cl.cnf"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for out, cn, ca in (("cl", CN, "ca"), ("other", "interop-intruder", "ca2"),
                        ("cl2", CN + "-2", "ca")):
        sh(f"openssl req {ec} -keyout {out}.key -out {out}.csr -subj /CN={cn} && "
           f"openssl x509 -req -in {out}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial "
           f"-days 2 -extfile cl.cnf -out {out}.pem", d)
    # case8's watched files: cl's certificate first, cl2's rotated in.
    sh("cp cl.pem rot.pem && cp cl.key rot.key", d)


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


# ---- Messages from the upstream descriptors ------------------------------------
pool = descriptor_pool.DescriptorPool()
fds = descriptor_pb2.FileDescriptorSet()
with open(DESCRIPTORS, "rb") as f:
    fds.ParseFromString(f.read())
for fd in fds.file:
    pool.Add(fd)
factory = message_factory.MessageFactory(pool)


def cls(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


Operation = cls("google.longrunning.Operation")
ListResp = cls("google.longrunning.ListOperationsResponse")
GetReq = cls("google.longrunning.GetOperationRequest")
ListReq = cls("google.longrunning.ListOperationsRequest")
CancelReq = cls("google.longrunning.CancelOperationRequest")
DeleteReq = cls("google.longrunning.DeleteOperationRequest")
WaitReq = cls("google.longrunning.WaitOperationRequest")
Empty = cls("google.protobuf.Empty")


class Server:
    """Operations over mTLS. accepted: the bearer tokens let through.
    conn_age_ms: end every connection after about that long (GOAWAY), so
    that clients handshake again (case8)."""

    def __init__(self, d, accepted, conn_age_ms=0):
        self.accepted = set(accepted)
        self.lock = threading.Lock()
        self.calls = []  # (method, name, cn, authorization or None)
        self.polls = {}  # name -> Get/Wait calls answered
        self.wait_timeouts = {}  # name -> WaitOperationRequest.timeout seen last, in ms
        h = grpc.method_handlers_generic_handler("google.longrunning.Operations", {
            "GetOperation": self.unary("GetOperation", self.get, GetReq, Operation),
            "ListOperations": self.unary("ListOperations", self.list, ListReq, ListResp),
            "CancelOperation": self.unary("CancelOperation", self.empty, CancelReq, Empty),
            "DeleteOperation": self.unary("DeleteOperation", self.empty, DeleteReq, Empty),
            "WaitOperation": self.unary("WaitOperation", self.get, WaitReq, Operation),
        })
        opts = [("grpc.max_connection_age_ms", conn_age_ms),
                ("grpc.max_connection_age_grace_ms", 5000)] if conn_age_ms else []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=opts)
        self.server.add_generic_rpc_handlers((h,))
        creds = grpc.ssl_server_credentials([(read(d, "srv.key"), read(d, "srv.pem"))],
                                            root_certificates=read(d, "ca.pem"),
                                            require_client_auth=True)
        port = self.server.add_secure_port("127.0.0.1:0", creds)
        self.server.start()
        self.target = f"127.0.0.1:{port}"

    def unary(self, method, fn, req, resp):
        def handle(request, ctx):
            return fn(request, self.admit(method, request, ctx))
        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=req.FromString,
            response_serializer=resp.SerializeToString)

    def admit(self, method, req, ctx):
        """Records the call; refuses it unless the token is accepted.
        Returns the client certificate's CN."""
        md = dict(ctx.invocation_metadata())
        cn = ctx.auth_context().get("x509_common_name", [b""])
        with self.lock:
            self.calls.append((method, req.name, cn[0].decode() if cn else "",
                               md.get("authorization")))
        auth = md.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.accepted:
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
        return cn[0].decode() if cn else ""

    def get(self, req, cn):
        op = Operation(name=req.name)
        with self.lock:
            n = self.polls[req.name] = self.polls.get(req.name, 0) + 1
            if isinstance(req, WaitReq):
                self.wait_timeouts[req.name] = req.timeout.ToMilliseconds()
        if not req.name.endswith("/case2-op") or n >= DONE_AFTER:
            # case8-whoami: who the TLS layer says the client is.
            text = cn if req.name.endswith("/case8-whoami") else "finished"
            op.done = True
            op.response.type_url = "type.googleapis.com/google.protobuf.StringValue"
            op.response.value = wrappers_pb2.StringValue(value=text).SerializeToString()
        return op

    def list(self, req, _cn):
        resp = ListResp()
        if req.filter == "case1" and req.page_size == 10:
            for leaf in ("case1-list-a", "case1-list-b"):
                resp.operations.add(name=f"{req.name}/{leaf}", done=True)
        return resp

    def empty(self, req, _cn):
        return Empty()

    def of(self, leaf):
        with self.lock:
            return [c for c in self.calls if c[1] == f"{PARENT}/{leaf}"]

    def stop(self):
        self.server.stop(0)


def run_client(target, d, cases=(), label="client"):
    r = subprocess.run(VALGRIND + [CLIENT, target, d] + list(cases), capture_output=True,
                       text=True, timeout=300)
    for line in r.stdout.splitlines():
        print(f"[{label}] {line}")
    sys.stdout.flush()
    if r.stderr.strip():
        print("client stderr:\n" + r.stderr.rstrip(), flush=True)
    return r


def bearer(tok):
    return "Bearer " + tok


def main():
    d = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    make_pki(d)
    if VALGRIND:
        print("the C client runs under valgrind", flush=True)
    srv = Server(d, ["static-token", "provider-token-1", "tenant-a-token", "tenant-b-token"])
    try:
        r = run_client(srv.target, d)
        check(r.returncode == 0, f"the C client's cases passed (exit {r.returncode})")
        for i in range(1, 8):
            check(f"ok   case{i}:" in r.stdout, f"case{i} ran and passed")
        # What the server saw.
        calls = [c for c in srv.calls if "/case1-" in c[1] or c[1] == PARENT]
        methods = sorted({c[0] for c in calls})
        check(methods == ["CancelOperation", "DeleteOperation", "GetOperation",
                          "ListOperations", "WaitOperation"],
              f"case1: the five methods reached the server ({methods})")
        check(len(calls) == 5 and all(c[2] == CN and c[3] == bearer("static-token")
                                      for c in calls),
              f"case1: every call carried our certificate and the static token "
              f"({[(c[0], c[2], c[3] is not None) for c in calls]})")
        check(srv.wait_timeouts.get(f"{PARENT}/case1-wait") == 1000 and
              srv.wait_timeouts.get(f"{PARENT}/case2-op") == 1000,
              f"WaitOperationRequest.timeout arrived as 1 s ({srv.wait_timeouts})")
        c2 = srv.of("case2-op")
        c2m = [c[0] for c in c2]
        check(len(c2) == DONE_AFTER and all(c[2] == CN and c[3] == bearer("provider-token-1")
                                            for c in c2),
              f"case2: {DONE_AFTER} polls, each with our certificate and the provider's one "
              f"token ({len(c2)} calls)")
        check(c2m == ["GetOperation"] * 4 + ["WaitOperation"] * 2,
              f"case2: 3 Gets, then the await's first Get and two WaitOperation turns ({c2m})")
        check(srv.of("case3-nocert") == [] and srv.of("case4-otherca") == [],
              "case3/case4: no call got past the TLS handshake")
        c5 = srv.of("case5-wrongtoken")
        check(len(c5) == 1 and c5[0][2] == CN and c5[0][3] == bearer("wrong-token"),
              "case5: the server saw our certificate and the wrong token")
        seen6 = {leaf: [(c[2], c[3]) for c in srv.of(leaf)]
                 for leaf in ("case6-a", "case6-b", "case6-a2", "case6-none")}
        shape6 = {k: [(cn, t.split()[-1][:8] if t else None) for cn, t in v]
                  for k, v in seen6.items()}
        check(seen6 == {"case6-a": [(CN, bearer("tenant-a-token"))],
                        "case6-b": [(CN, bearer("tenant-b-token"))],
                        "case6-a2": [(CN, bearer("tenant-a-token"))],
                        "case6-none": [(CN, None)]},
              "case6: per-call tokens switched between calls of one client, none without "
              f"({shape6})")
        c7 = srv.of("case7-files")
        check(len(c7) == 1 and c7[0][2] == CN and c7[0][3] == bearer("static-token"),
              "case7: the certificate from the watched files and the token")
        check(not any(c[2] == "interop-intruder" for c in srv.calls),
              "the other CA's certificate never got in")
    finally:
        srv.stop()

    # case8: rotating the watched certificate files under a live client,
    # against a server that ends connections every 300 ms.
    srv = Server(d, ["static-token"], conn_age_ms=300)
    try:
        r = run_client(srv.target, d, ["case8"])
        check(r.returncode == 0 and "ok   case8:" in r.stdout,
              f"case8 ran and passed (exit {r.returncode})")
        c8 = srv.of("case8-whoami")
        cns = [c[2] for c in c8]
        check(len(c8) >= 2 and cns[0] == CN and cns[-1] == CN + "-2"
              and set(cns) <= {CN, CN + "-2"}
              and all(c[3] == bearer("static-token") for c in c8),
              f"case8: the server saw {CN}, then {CN}-2, with the token "
              f"({len(c8)} calls: {cns[0] if cns else None} .. {cns[-1] if cns else None})")
    finally:
        srv.stop()

    # Negative control: a server that accepts none of the client's tokens.
    # The client must notice (case1 and case7 fail); the server still records
    # the calls it refused.
    srv = Server(d, ["some-other-token"])
    try:
        r = run_client(srv.target, d, ["case1", "case7"], "negative control, FAIL expected")
        check(r.returncode == 1 and "FAIL case1:" in r.stdout and "FAIL case7:" in r.stdout
              and REFUSAL in r.stdout,
              "negative control: the client reports the refused token as failures")
        check(len(srv.of("case1-get")) == 1, "negative control: the server saw the refused Get")
    finally:
        srv.stop()

    if failures:
        print(f"{len(failures)} FAILED: {failures}")
        sys.exit(1)
    print("grpcio_interop_test: OK")


if __name__ == "__main__":
    main()
